"""Decode requests the way MLflow's server does (reference section 1.2).

- POST bodies are JSON objects with ``Content-Type: application/json``; a double-encoded
  body (a JSON string holding JSON) is decoded twice;
- field names may be snake_case or lowerCamel, not both for one field;
- int64 fields take numbers or numeric strings, doubles take "NaN"/"Infinity"/"-Infinity";
- GET parameters come from the query string (repeated keys for lists), or from a JSON body
  when there is no query string;
- unknown fields are ignored; a wrongly typed field is a 400 that names it;
- beyond MLflow: a body nested deeper than ``MAX_NESTING`` levels, and a string holding a
  NUL character (PostgreSQL cannot store one), are a 400 on every route.
"""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request

from trackledger.api.errors import ApiError

__all__ = [
    "DECODED",
    "MAX_NESTING",
    "Int32",
    "Int64",
    "decode",
    "read",
    "read_body",
    "refuse_nul",
]

#: Scope key of a request already decoded (kind, value): the auth guard decodes the body
#: of a logging call once to find its run, and the handler takes the same value.
DECODED = "trackledger.decoded"

T = TypeVar("T")

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]

#: The deepest nesting of arrays and objects a request body may have. MLflow's requests
#: need 4 or 5 levels; a limit keeps the parsers' recursion far from Python's own.
MAX_NESTING = 64

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Each bracket as a signed byte: +1 opens a level, -1 (0xff) closes one.
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_BRACKET_OR_QUOTE = bytes(b for b in range(256) if b not in b'[]{}"')
_PATH = re.compile(r"`\$((?:\.[A-Za-z_]\w*|\[\d+\])*)`")


_SNAKE: dict[str, str] = {}


def _snake(name: str) -> str:
    """``runId`` -> ``run_id``; cached, since requests repeat a handful of field names."""
    snake = _SNAKE.get(name)
    if snake is None:
        snake = _CAMEL.sub("_", name).lower() if not name.islower() else name
        if len(_SNAKE) < 10_000:
            _SNAKE[name] = snake
    return snake


def _brackets(raw: bytes) -> bytes:
    """The brackets of ``raw`` outside its strings, in order."""
    if b"\\" not in raw:
        # Without escapes, a string holding no bracket reduces to two adjacent quotes.
        # If removing those leaves no quote, no string held a bracket (the usual case,
        # and ten times faster than cutting out every string).
        reduced = raw.translate(None, _NOT_BRACKET_OR_QUOTE).replace(b'""', b"")
        if b'"' not in reduced:
            return reduced
    return _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKET)


def _depth_exceeds(brackets: bytes, limit: int) -> bool:
    """Whether ``brackets`` open more than ``limit`` levels at any point: one pass of
    running sums, each opening bracket +1 and each closing one -1 (signed bytes summed in
    C). Peeling the innermost pairs a round at a time took 150 ms of the event loop for a
    body nested 100,000 deep; this takes 5. Unbalanced brackets that never go that deep
    are left to the JSON parser to refuse."""
    steps = memoryview(brackets.translate(_DEPTH_STEPS)).cast("b")
    return max(itertools.accumulate(steps), default=0) > limit


def _check_nesting(raw: bytes) -> None:
    """Refuse a body whose arrays and objects nest deeper than ``MAX_NESTING``, before any
    parser recurses into it. Ordinary bodies cost next to nothing: with no more brackets
    than the limit there is nothing to do, and two quick rounds that may each collapse
    two levels settle flat bodies such as a log-batch."""
    if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING:
        return
    brackets = _brackets(raw)
    quick = brackets
    for _ in range(2):
        quick = quick.replace(b"[]", b"").replace(b"{}", b"")
        if not quick:
            return
    if _depth_exceeds(brackets, MAX_NESTING):
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"The request body nests arrays and objects deeper than {MAX_NESTING} levels.",
        )


def refuse_nul(value: str, name: str) -> str:
    """``value``, unless it holds a NUL character (which PostgreSQL cannot store)."""
    if "\x00" in value:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value for parameter '{name}' supplied: it contains a NUL character "
            "(\\u0000).",
        )
    return value


def _normalize(value: Any, name: str = "request") -> Any:
    """Snake-case every object key, refusing two spellings of one field and NUL characters
    in strings."""
    if isinstance(value, list):
        return [_normalize(v, name) for v in value]
    if isinstance(value, str):
        return refuse_nul(value, name)
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        snake = _snake(key)
        if snake in out:
            raise ApiError(
                "INVALID_PARAMETER_VALUE",
                f"Field '{snake}' was given twice (as '{key}' and as '{snake}').",
            )
        out[snake] = _normalize(item, snake) if isinstance(item, (dict, list, str)) else item
    return out


def _lookup(data: Any, path: str) -> Any:
    for part in re.findall(r"\.([A-Za-z_]\w*)|\[(\d+)\]", path):
        name, index = part
        try:
            data = data[name] if name else data[int(index)]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def decode(data: Any, kind: type[T]) -> T:
    """Convert normalized request data into ``kind``, with MLflow's error wording."""
    if not isinstance(data, dict):
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"The request body must be a JSON object, got {type(data).__name__}.",
        )
    try:
        return msgspec.convert(data, kind, strict=False)
    except msgspec.ValidationError as exc:
        match = _PATH.search(str(exc))
        path = match.group(1) if match else ""
        name = path.lstrip(".") or "request"
        value = _lookup(data, path)
        shown = orjson.dumps(value).decode() if _jsonable(value) else repr(value)
        if len(shown) > 200:
            shown = shown[:200] + "..."
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {shown} for parameter '{name}' supplied: Hint: Value was of type "
            f"'{type(value).__name__}'. See the API docs for more information about request "
            "parameters.",
        ) from None


def _jsonable(value: Any) -> bool:
    try:
        orjson.dumps(value)
    except TypeError:
        return False
    return True


def _body_json(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
        if isinstance(data, str):  # double-encoded by old clients
            inner = data.encode()
            _check_nesting(inner)
            data = orjson.loads(inner)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            "INVALID_PARAMETER_VALUE", f"Malformed JSON in the request body: {exc}"
        ) from None
    return data


def _query(request: Request, lists: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        name = _snake(key)
        refuse_nul(value, name)
        if name in lists:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


_CAMEL_FIELDS: dict[type, tuple[bytes, ...]] = {}


def _camel_names(info: msgspec.inspect.Type, out: set[bytes]) -> None:
    if isinstance(info, msgspec.inspect.StructType):
        for field in info.fields:
            if "_" in field.name:
                head, *rest = field.name.split("_")
                out.add(b'"' + (head + "".join(w.title() for w in rest)).encode() + b'"')
            _camel_names(field.type, out)
    elif isinstance(info, (msgspec.inspect.ListType, msgspec.inspect.SetType)):
        _camel_names(info.item_type, out)
    elif isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            _camel_names(member, out)


def _has_camel_field(raw: bytes, kind: type) -> bool:
    """Whether ``raw`` may spell one of ``kind``'s fields (nested ones too) in lowerCamel."""
    if raw.lower() == raw:  # no capital letter at all: one pass instead of one per name
        return False
    names = _CAMEL_FIELDS.get(kind)
    if names is None:
        found: set[bytes] = set()
        _camel_names(msgspec.inspect.type_info(kind), found)
        names = _CAMEL_FIELDS[kind] = tuple(found)
    return any(name in raw for name in names)


async def read(request: Request, kind: type[T], lists: frozenset[str] = frozenset()) -> T:
    """The request's parameters as ``kind``: the JSON body, or the query string of a GET."""
    shared = request.scope.get(DECODED)
    if shared is not None and shared[0] is kind:
        value: T = shared[1]
        return value
    if request.method == "GET" and request.url.query:
        return decode(_query(request, lists), kind)
    content_type = request.headers.get("content-type")
    return read_body(request.method, content_type, await request.body(), kind)


def read_body(method: str, content_type: str | None, raw: bytes, kind: type[T]) -> T:
    """A request body as ``kind``, as ``read`` takes it (the auth guard reads the bodies of
    logging calls with it, before their handlers)."""
    if method in ("POST", "PUT"):
        if content_type is None:
            raise ApiError(
                "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing."
            )
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(
                "INVALID_PARAMETER_VALUE",
                "Bad Request. Content-Type must be one of ['application/json'].",
            )
    _check_nesting(raw)
    if method in ("POST", "PUT"):
        if raw[:1] == b"{" and b"\\u" not in raw and not _has_camel_field(raw, kind):
            # No field in lowerCamel and no escape (so no NUL): decode straight into
            # ``kind``. Anything this refuses takes the general path below, which words
            # the error.
            try:
                return msgspec.json.decode(raw, type=kind, strict=False)
            except msgspec.DecodeError:
                pass
    # A GET without a query string, PATCH and DELETE: MLflow parses the body without
    # looking at the content type.
    return decode(_normalize(_body_json(raw)), kind)
