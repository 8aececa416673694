"""Authentication on, through the real handlers, on both backends: what each user may do
(permissions, deny, roles, grants) over experiments, runs, searches,
registered models and traces."""

from __future__ import annotations

from tests.api.auth_helpers import (
    ADMIN,
    ML,
    ML3,
    PASSWORD,
    TL,
    add_user,
    admin_check,
    as_user,
    create_experiment,
    create_run,
    grant,
    grant_as_admin,
)
from tests.api.helpers import error, ok
from tests.conftest import count_events


async def test_a_read_user_reads_but_cannot_write_or_purge(auth_app, admin, backend):
    await add_user(admin, "reader")
    experiment_id = await create_experiment(admin, "team")
    run_id = await create_run(admin, experiment_id)
    async with as_user(auth_app, "reader") as reader:
        await ok(await reader.get(f"{ML}/runs/get", params={"run_id": run_id}))
        before = await count_events(backend)
        error(
            await reader.post(
                f"{ML}/runs/log-batch",
                json={"run_id": run_id, "params": [{"key": "p", "value": "1"}]},
            ),
            "PERMISSION_DENIED",
            403,
        )
        error(
            await reader.post(f"{ML}/experiments/delete", json={"experiment_id": experiment_id}),
            "PERMISSION_DENIED",
            403,
        )
        error(
            await reader.post(f"{TL}/admin/gc", json={"older_than": "0s"}), "PERMISSION_DENIED", 403
        )
        error(
            await reader.post(f"{ML}/users/create", json={"username": "x", "password": PASSWORD}),
            "PERMISSION_DENIED",
            403,
        )
        assert await count_events(backend) == before
        await grant(admin, "reader", experiment_id, "EDIT")
        await ok(
            await reader.post(
                f"{ML}/runs/log-batch",
                json={"run_id": run_id, "params": [{"key": "p", "value": "1"}]},
            )
        )
    await ok(await admin.post(f"{ML}/experiments/delete", json={"experiment_id": experiment_id}))
    purged = await ok(await admin.post(f"{TL}/admin/gc", json={"older_than": "0s"}))
    assert purged == {"runs_purged": 1, "experiments_purged": 1}


async def test_searches_leave_out_what_the_user_may_not_read(closed_app):
    app = closed_app
    async with as_user(app, *ADMIN) as admin:
        await add_user(admin, "alice")
        await add_user(admin, "bob")
        secret = await create_experiment(admin, "secret")
        shared = await create_experiment(admin, "shared")
        secret_run = await create_run(admin, secret)
        shared_run = await create_run(admin, shared)
        dataset = {"dataset": {"name": "ds", "digest": "d", "source_type": "s", "source": "x"}}
        for run_id in (secret_run, shared_run):
            inputs = {"run_id": run_id, "datasets": [dataset]}
            await ok(await admin.post(f"{ML}/runs/log-inputs", json=inputs))
        await grant(admin, "bob", shared, "READ")
    async with as_user(app, "alice") as alice:
        own = await create_experiment(alice, "alice's")
        names = await ok(await alice.post(f"{ML}/experiments/search", json={"max_results": 1}))
        assert [e["name"] for e in names["experiments"]] == ["alice's"]
        assert "next_page_token" not in names
        runs = await ok(
            await alice.post(f"{ML}/runs/search", json={"experiment_ids": [secret, shared, own]})
        )
        assert runs == {}
        error(
            await alice.get(f"{ML}/runs/get", params={"run_id": secret_run}),
            "PERMISSION_DENIED",
            403,
        )
        counts = await ok(
            await alice.get(
                f"{TL}/experiments/run-counts", params={"experiment_ids": [secret, own]}
            )
        )
        assert set(counts["counts"]) == {own}
    async with as_user(app, "bob") as bob:
        names = await ok(await bob.get(f"{ML}/experiments/search"))
        assert [e["name"] for e in names["experiments"]] == ["shared"]
        runs = await ok(
            await bob.post(f"{ML}/runs/search", json={"experiment_ids": [secret, shared]})
        )
        assert [r["info"]["run_id"] for r in runs["runs"]] == [shared_run]
        datasets = await ok(
            await bob.post(
                f"{ML}/experiments/search-datasets", json={"experiment_ids": [secret, shared]}
            )
        )
        assert [d["experiment_id"] for d in datasets["dataset_summaries"]] == [shared]
        error(
            await bob.post(f"{ML}/runs/search", json={"experiment_ids": [secret], "filter": "x ="}),
            "INVALID_PARAMETER_VALUE",
            400,
        )


async def test_deny_wins_over_the_default_and_over_roles(auth_app, admin):
    await add_user(admin, "carol")
    hidden = await create_experiment(admin, "hidden")
    role = (
        await ok(
            await admin.post(
                f"{ML3}/roles/create", json={"workspace": "default", "name": "everything"}
            )
        )
    )["role"]
    await ok(
        await admin.post(
            f"{ML3}/roles/permissions/add",
            json={
                "role_id": role["id"],
                "resource_type": "experiment",
                "resource_pattern": "*",
                "permission": "EDIT",
            },
        )
    )
    await ok(
        await admin.post(f"{ML3}/roles/assign", json={"username": "carol", "role_id": role["id"]})
    )
    async with as_user(auth_app, "carol") as carol:
        await create_run(carol, hidden)
        await grant(admin, "carol", hidden, "DENY")
        error(
            await carol.get(f"{ML}/experiments/get", params={"experiment_id": hidden}),
            "PERMISSION_DENIED",
            403,
        )
        found = await ok(await carol.post(f"{ML}/experiments/search", json={}))
        assert hidden not in {e["experiment_id"] for e in found["experiments"]}
        check = await ok(
            await admin.get(
                f"{ML3}/users/permissions/get",
                params={"username": "carol", "resource_type": "experiment", "resource_id": hidden},
            )
        )
        assert check == {"allowed": False, "permission": "DENY"}


async def test_roles_and_assignments(auth_app, admin):
    dave = await add_user(admin, "dave")
    experiment_id = await create_experiment(admin, "roles")
    created = await ok(
        await admin.post(
            f"{ML3}/roles/create",
            json={"workspace": "default", "name": "writers", "description": "may write"},
        )
    )
    role = created["role"]
    assert role == {
        "id": role["id"],
        "name": "writers",
        "workspace": "default",
        "description": "may write",
        "permissions": [],
    }
    error(
        await admin.post(f"{ML3}/roles/create", json={"workspace": "default", "name": "writers"}),
        "RESOURCE_ALREADY_EXISTS",
        400,
    )
    permission = (
        await ok(
            await admin.post(
                f"{ML3}/roles/permissions/add",
                json={
                    "role_id": role["id"],
                    "resource_type": "experiment",
                    "resource_pattern": experiment_id,
                    "permission": "EDIT",
                },
            )
        )
    )["role_permission"]
    assignment = (
        await ok(
            await admin.post(
                f"{ML3}/roles/assign", json={"username": "dave", "role_id": role["id"]}
            )
        )
    )["assignment"]
    assert assignment["user_id"] == dave["id"] and assignment["role_id"] == role["id"]
    async with as_user(auth_app, "dave") as as_dave:
        run_id = await create_run(as_dave, experiment_id)
        listed = await ok(await as_dave.get(f"{ML3}/users/roles/list", params={"username": "dave"}))
        assert [r["name"] for r in listed["roles"]] == ["writers"]
        mine = await ok(await as_dave.get(f"{ML3}/users/current/permissions"))
        assert mine["permissions"][0]["role_name"] == "writers"
        updated = await ok(
            await admin.patch(
                f"{ML3}/roles/permissions/update",
                json={"role_permission_id": permission["id"], "permission": "READ"},
            )
        )
        assert updated["role_permission"]["permission"] == "READ"
        error(
            await as_dave.post(
                f"{ML}/runs/set-tag", json={"run_id": run_id, "key": "k", "value": "v"}
            ),
            "PERMISSION_DENIED",
            403,
        )
        users = await ok(await admin.get(f"{ML3}/roles/users/list", params={"role_id": role["id"]}))
        assert users["assignments"] == [assignment]
        await ok(
            await admin.request(
                "DELETE", f"{ML3}/roles/unassign", json={"username": "dave", "role_id": role["id"]}
            )
        )
        renamed = await ok(
            await admin.patch(
                f"{ML3}/roles/update", json={"role_id": role["id"], "name": "readers"}
            )
        )
        assert renamed["role"]["name"] == "readers"
        await ok(await admin.request("DELETE", f"{ML3}/roles/delete", json={"role_id": role["id"]}))
        error(
            await admin.get(f"{ML3}/roles/get", params={"role_id": role["id"]}),
            "RESOURCE_DOES_NOT_EXIST",
            404,
        )


async def test_grant_endpoints_and_the_older_per_experiment_ones(auth_app, admin):
    await add_user(admin, "gina")
    await add_user(admin, "hank")
    experiment_id = await create_experiment(admin, "grants")
    body = {"experiment_id": experiment_id, "username": "gina", "permission": "EDIT"}
    created = await ok(await admin.post(f"{ML}/experiments/permissions/create", json=body))
    assert created["experiment_permission"]["permission"] == "EDIT"
    error(
        await admin.post(f"{ML}/experiments/permissions/create", json=body),
        "RESOURCE_ALREADY_EXISTS",
        400,
    )
    got = await ok(
        await admin.get(
            f"{ML}/experiments/permissions/get",
            params={"experiment_id": experiment_id, "username": "gina"},
        )
    )
    assert got["experiment_permission"]["permission"] == "EDIT"
    await ok(
        await admin.patch(
            f"{ML}/experiments/permissions/update", json={**body, "permission": "MANAGE"}
        )
    )
    async with as_user(auth_app, "gina") as gina:
        # A MANAGE holder manages the experiment's permissions, and no other's.
        await ok(
            await gina.post(
                f"{ML3}/users/permissions/grant",
                json={
                    "username": "hank",
                    "resource_type": "experiment",
                    "resource_id": experiment_id,
                    "permission": "READ",
                },
            )
        )
        error(
            await gina.post(
                f"{ML3}/users/permissions/grant",
                json={
                    "username": "hank",
                    "resource_type": "experiment",
                    "resource_id": "0",
                    "permission": "READ",
                },
            ),
            "PERMISSION_DENIED",
            403,
        )
        error(
            await gina.post(
                f"{ML3}/users/permissions/grant",
                json={
                    "username": "hank",
                    "resource_type": "experiment",
                    "resource_id": "*",
                    "permission": "READ",
                },
            ),
            "PERMISSION_DENIED",
            403,
        )
    error(
        await admin.post(
            f"{ML3}/users/permissions/grant",
            json={
                "username": "hank",
                "resource_type": "experiment",
                "resource_id": experiment_id,
                "permission": "NO_PERMISSIONS",
            },
        ),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    listed = await ok(await admin.get(f"{ML3}/users/permissions/list", params={"username": "hank"}))
    assert listed["permissions"] == [
        {
            "role_id": 0,
            "role_name": listed["permissions"][0]["role_name"],
            "workspace": "default",
            "resource_type": "experiment",
            "resource_pattern": experiment_id,
            "permission": "READ",
        }
    ]
    await ok(
        await admin.post(
            f"{ML3}/users/permissions/revoke",
            json={"username": "hank", "resource_type": "experiment", "resource_id": experiment_id},
        )
    )
    await ok(
        await admin.request(
            "DELETE",
            f"{ML}/experiments/permissions/delete",
            json={"experiment_id": experiment_id, "username": "gina"},
        )
    )
    error(
        await admin.get(
            f"{ML}/experiments/permissions/get",
            params={"experiment_id": experiment_id, "username": "gina"},
        ),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )


async def test_registered_models_creator_grants_search_and_rename(closed_app):
    app = closed_app
    async with as_user(app, *ADMIN) as admin:
        await add_user(admin, "alice")
        await add_user(admin, "bob")
    async with as_user(app, "alice") as alice, as_user(app, "bob") as bob:
        await ok(await alice.post(f"{ML}/registered-models/create", json={"name": "m1"}))
        await ok(await alice.post(f"{ML}/registered-models/create", json={"name": "m2"}))
        found = await ok(await bob.get(f"{ML}/registered-models/search"))
        assert found == {}
        body = {"name": "m1", "username": "bob", "permission": "READ"}
        made = await ok(await alice.post(f"{ML}/registered-models/permissions/create", json=body))
        assert made["registered_model_permission"]["name"] == "m1"
        found = await ok(await bob.get(f"{ML}/registered-models/search"))
        assert [m["name"] for m in found["registered_models"]] == ["m1"]
        error(
            await bob.patch(
                f"{ML}/registered-models/update", json={"name": "m1", "description": "x"}
            ),
            "PERMISSION_DENIED",
            403,
        )
        # A rename keeps the model's grants: they are held by its id, not its name.
        await ok(
            await alice.post(
                f"{ML}/registered-models/rename", json={"name": "m1", "new_name": "renamed"}
            )
        )
        await ok(await bob.get(f"{ML}/registered-models/get", params={"name": "renamed"}))
        got = await ok(
            await alice.get(
                f"{ML}/registered-models/permissions/get",
                params={"name": "renamed", "username": "bob"},
            )
        )
        assert got["registered_model_permission"]["permission"] == "READ"
        history = await ok(
            await alice.get(f"{TL}/registered-models/history", params={"name": "renamed"})
        )
        granted = [e["data"] for e in history["events"] if e["type"] == "permission.granted"]
        assert [(g["username"], g["permission"]) for g in granted] == [
            ("alice", "MANAGE"),
            ("bob", "READ"),
        ]
        # A new model under a freed name starts with no grants.
        await ok(
            await alice.post(
                f"{ML}/registered-models/permissions/create",
                json={"name": "m2", "username": "bob", "permission": "EDIT"},
            )
        )
        check = await ok(await admin_check(app, "bob", "registered_model", "m2"))
        assert check == {"allowed": True, "permission": "EDIT"}
        await ok(
            await alice.request("DELETE", f"{ML}/registered-models/delete", json={"name": "m2"})
        )
        await ok(await alice.post(f"{ML}/registered-models/create", json={"name": "m2"}))
        listed = await ok(await admin_check(app, "bob", "registered_model", "m2"))
        assert listed == {"allowed": False, "permission": "NO_PERMISSIONS"}


async def test_traces_follow_their_experiment(closed_app):
    app = closed_app
    async with as_user(app, *ADMIN) as admin:
        await add_user(admin, "alice")
        experiment_id = await create_experiment(admin, "traced")
        started = await ok(await admin.post(f"{ML}/traces", json={"experiment_id": experiment_id}))
        trace_id = started["trace_info"]["request_id"]
    async with as_user(app, "alice") as alice:
        error(await alice.get(f"{ML3}/traces/{trace_id}"), "RESOURCE_DOES_NOT_EXIST", 404)
        found = await ok(
            await alice.get(f"{ML}/traces", params={"experiment_ids": [experiment_id]})
        )
        assert found.get("traces", []) == []
        tag = {"key": "k", "value": "v"}
        error(
            await alice.patch(f"{ML3}/traces/{trace_id}/tags", json=tag), "PERMISSION_DENIED", 403
        )
        await grant_as_admin(app, "alice", experiment_id, "EDIT")
        await ok(await alice.get(f"{ML3}/traces/{trace_id}"))
        await ok(await alice.patch(f"{ML3}/traces/{trace_id}/tags", json=tag))
