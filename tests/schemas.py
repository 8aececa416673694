"""Migrated PostgreSQL schemas for tests that open their store through the ``backend``
fixture: each such test gets a schema of its own, with a new name and no rows but the ones
the migrations write, without paying for the catalog work of creating one.

Creating a store's schema (CREATE SCHEMA, then the migrations' 40 tables and 80 indexes)
costs PostgreSQL about 0.25 s and its DROP another 0.07 on an idle machine, about 0.4 s a
test in a run of the suite: over 600 tests, a sixth of CI's time. A worker keeps the
schemas its tests are done with instead: emptied back to the rows the migrations leave,
its sequences set back, its tables' statistics counters reset, and renamed when handed
out again. A schema a test changed the shape of (a rebuild's new generation of index
names, an older migration), or wrote many events to (whose dead rows the next test's
searches would read: this server runs without autovacuum), is dropped instead.
"""

from __future__ import annotations

import uuid

import asyncpg
import msgspec

from trackledger.services.migrations import upgrade_postgres

#: A schema whose log grew past this many events is dropped rather than emptied.
_KEEP_UP_TO_EVENTS = 2_000

#: What makes two schemas the same store, whatever their names: relations with their
#: columns, indexes, constraints, triggers and functions.
_SHAPE = """
SELECT c.relname, c.relkind::text,
       (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                          || coalesce(' ' || pg_get_expr(d.adbin, d.adrelid), ''),
                          ', ' ORDER BY a.attnum)
          FROM pg_attribute a
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
       CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid) END
  FROM pg_class c
 WHERE c.relnamespace = $1::regnamespace
UNION ALL
SELECT conname, 'constraint', pg_get_constraintdef(oid), NULL
  FROM pg_constraint WHERE connamespace = $1::regnamespace
UNION ALL
SELECT t.tgname, 'trigger', pg_get_triggerdef(t.oid), NULL
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = $1::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT proname, 'function', md5(prosrc), NULL
  FROM pg_proc WHERE pronamespace = $1::regnamespace
ORDER BY 1, 2
"""


class _Baseline(msgspec.Struct, frozen=True):
    """A freshly migrated schema: its shape, its tables' rows, its sequences' states."""

    shape: tuple[tuple[str | None, ...], ...]
    rows: dict[str, list[tuple[object, ...]]]
    sequences: dict[str, tuple[int, bool]]


class SchemaStock:
    """One worker's migrated schemas in ``database``: ``take`` one for a test, ``give_back``
    when it is done."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._free: list[str] = []
        self._baseline: _Baseline | None = None

    async def take(self) -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        conn = await asyncpg.connect(self.database)
        try:
            if self._free:
                await conn.execute(f"ALTER SCHEMA {self._free.pop()} RENAME TO {name}")
                return name
            await conn.execute(f"CREATE SCHEMA {name}")
            store = await asyncpg.connect(self.database, server_settings={"search_path": name})
            try:
                await upgrade_postgres(store)
            finally:
                await store.close()
            if self._baseline is None:
                self._baseline = await _baseline(conn, name)
            return name
        finally:
            await conn.close()

    async def give_back(self, schema: str) -> None:
        conn = await asyncpg.connect(self.database)
        try:
            if await self._reusable(conn, schema):
                try:
                    await self._empty(conn, schema)
                except asyncpg.PostgresError:
                    pass  # e.g. a lock a test's leftover connection holds: drop it
                else:
                    self._free.append(schema)
                    return
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
        finally:
            await conn.close()

    async def _reusable(self, conn: asyncpg.Connection, schema: str) -> bool:
        if self._baseline is None or await _shape(conn, schema) != self._baseline.shape:
            return False
        written = await conn.fetchval(f"SELECT last_value FROM {schema}.events_position_seq")
        return int(written) <= _KEEP_UP_TO_EVENTS

    async def _empty(self, conn: asyncpg.Connection, schema: str) -> None:
        assert self._baseline is not None
        tables = [
            row[0]
            for row in await conn.fetch(
                "SELECT relname FROM pg_class WHERE relnamespace = $1::regnamespace "
                "AND relkind = 'r'",
                schema,
            )
        ]
        async with conn.transaction():
            await conn.execute("SET LOCAL lock_timeout = '5s'")
            # The log's append-only trigger lets a purge delete (eventlog/postgres_schema.py).
            await conn.execute("SET LOCAL trackledger.purge = 'on'")
            await conn.execute("; ".join(f'DELETE FROM {schema}."{t}"' for t in tables))
            for table, rows in self._baseline.rows.items():
                await conn.copy_records_to_table(table, records=rows, schema_name=schema)
            for sequence, (value, called) in self._baseline.sequences.items():
                await conn.execute(
                    "SELECT setval($1::regclass, $2, $3)", f"{schema}.{sequence}", value, called
                )
            await conn.execute(
                "SELECT pg_stat_reset_single_table_counters(oid) FROM pg_class "
                "WHERE relnamespace = $1::regnamespace",
                schema,
            )


async def _shape(conn: asyncpg.Connection, schema: str) -> tuple[tuple[str | None, ...], ...]:
    rows = await conn.fetch(_SHAPE, schema)
    prefix = f"{schema}."
    return tuple(
        tuple(None if v is None else str(v).replace(prefix, "") for v in row) for row in rows
    )


async def _baseline(conn: asyncpg.Connection, schema: str) -> _Baseline:
    rows: dict[str, list[tuple[object, ...]]] = {}
    sequences: dict[str, tuple[int, bool]] = {}
    for name, kind in await conn.fetch(
        "SELECT relname, relkind::text FROM pg_class WHERE relnamespace = $1::regnamespace "
        "AND relkind IN ('r', 'S')",
        schema,
    ):
        if kind == "S":
            state = await conn.fetchrow(f'SELECT last_value, is_called FROM {schema}."{name}"')
            sequences[name] = (int(state[0]), bool(state[1]))
            continue
        found = [tuple(r) for r in await conn.fetch(f'SELECT * FROM {schema}."{name}"')]
        if found:
            rows[name] = found
    return _Baseline(await _shape(conn, schema), rows, sequences)
