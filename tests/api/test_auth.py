"""Authentication on, through the real handlers, on both backends: who a request is
(credentials, tokens, sessions, hosts), the users API, and what the log keeps of it.
What each user may do is test_auth_permissions.py."""

from __future__ import annotations

from tests.api.auth_helpers import (
    ADMIN,
    ML,
    ML3,
    PASSWORD,
    TL,
    add_user,
    as_user,
    basic,
    client_of,
    create_experiment,
    create_run,
    make_app,
)
from tests.api.helpers import error, ok
from tests.conftest import count_events


async def test_no_credential_is_401_with_a_basic_challenge(anonymous):
    response = await anonymous.post(f"{ML}/experiments/search", json={})
    error(response, "UNAUTHENTICATED", 401)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="trackledger"'
    # Liveness and what the client probes stay public.
    assert (await anonymous.get("/health")).status_code == 200
    assert (await anonymous.get(f"{ML3}/server-info")).status_code == 200


async def test_a_wrong_password_or_a_forged_name_is_refused(auth_app, admin, backend):
    await add_user(admin, "alice")
    before = await count_events(backend)
    async with client_of(auth_app, basic("alice", "not-her-password")) as forged:
        response = await forged.post(f"{ML}/experiments/create", json={"name": "x"})
        error(response, "UNAUTHENTICATED", 401)
    async with client_of(auth_app, basic("mallory", PASSWORD)) as unknown:
        error(await unknown.get(f"{ML}/users/current"), "UNAUTHENTICATED", 401)
    assert await count_events(backend) == before


async def test_the_actor_and_the_runs_user_are_the_authenticated_user(auth_app, admin):
    await add_user(admin, "alice")
    async with as_user(auth_app, "alice") as alice:
        experiment_id = await create_experiment(alice, "alice's")
        run_id = await create_run(alice, experiment_id, user_id="somebody-else")
        await ok(
            await alice.post(
                f"{ML}/runs/log-metric",
                json={
                    "run_id": run_id,
                    "key": "m",
                    "value": 1.0,
                    "timestamp": 1,
                },
            )
        )
        run = await ok(await alice.get(f"{ML}/runs/get", params={"run_id": run_id}))
        assert run["run"]["info"]["user_id"] == "alice"
        history = await ok(await alice.get(f"{TL}/runs/history", params={"run_id": run_id}))
        assert {e["actor"] for e in history["events"]} == {"alice"}
        experiment = await ok(
            await alice.get(f"{TL}/experiments/history", params={"experiment_id": experiment_id})
        )
    # The experiment's history says who got MANAGE on it, and that it was its creator.
    granted = [e for e in experiment["events"] if e["type"] == "permission.granted"]
    assert [(e["actor"], e["data"]["username"], e["data"]["permission"]) for e in granted] == [
        ("alice", "alice", "MANAGE")
    ]


async def test_access_tokens(auth_app, admin):
    await add_user(admin, "ivy")
    async with as_user(auth_app, "ivy") as ivy:
        created = await ok(
            await ivy.post(f"{TL}/tokens/create", json={"name": "ci", "expires_in_days": 7})
        )
        token = created["token"]
        assert token.startswith("tlk_") and created["token_info"]["name"] == "ci"
        listed = await ok(await ivy.get(f"{TL}/tokens/list"))
        assert [t["name"] for t in listed["tokens"]] == ["ci"] and "token" not in listed["tokens"][
            0
        ]
    async with client_of(auth_app, {"Authorization": f"Bearer {token}"}) as ci:
        experiment_id = await create_experiment(ci, "from ci")
        history = await ok(
            await ci.get(f"{TL}/experiments/history", params={"experiment_id": experiment_id})
        )
        assert {e["actor"] for e in history["events"]} == {"ivy"}
        events = history["events"]
        assert all("token_hash" not in e["data"] for e in events)
        await ok(
            await ci.post(f"{TL}/tokens/revoke", json={"token_id": created["token_info"]["id"]})
        )
        error(await ci.get(f"{ML}/users/current"), "UNAUTHENTICATED", 401)
    async with client_of(auth_app, {"Authorization": f"Bearer {token[:-1]}x"}) as wrong:
        error(await wrong.get(f"{ML}/users/current"), "UNAUTHENTICATED", 401)


async def test_the_log_holds_hashes_and_never_shows_them(auth_app, admin, backend):
    from trackledger.eventlog.events import encode_event
    from trackledger.projections.history import describe

    await add_user(admin, "jack")
    stored = await backend.store.read_stream("user/jack")
    assert [s.type for s in stored] == ["user.created"] and stored[0].actor == "admin"
    assert PASSWORD.encode() not in encode_event(stored[0].event)
    assert stored[0].event.password_hash.startswith("scrypt$")
    assert describe(stored[0])["data"]["password_hash"] == "(hidden)"


async def test_failed_logins_are_limited_per_user(auth_app, admin):
    await add_user(admin, "kate")
    async with as_user(auth_app, "kate") as kate:
        await ok(await kate.get(f"{ML}/users/current"))  # verified and cached
        for _ in range(10):
            async with client_of(auth_app, basic("kate", "guess-guess-guess")) as guess:
                error(await guess.get(f"{ML}/users/current"), "UNAUTHENTICATED", 401)
        async with client_of(auth_app, basic("kate", "guess-guess-guess")) as guess:
            response = await guess.get(f"{ML}/users/current")
            error(response, "REQUEST_LIMIT_EXCEEDED", 429)
            assert int(response.headers["Retry-After"]) > 0
        # The credential a running job already uses keeps working.
        await ok(await kate.get(f"{ML}/users/current"))


async def test_browser_session_needs_the_csrf_token_to_change_anything(auth_app, anonymous):
    error(
        await anonymous.post(f"{TL}/auth/login", json={"username": "admin", "password": "nope"}),
        "UNAUTHENTICATED",
        401,
    )
    response = await anonymous.post(
        f"{TL}/auth/login", json={"username": ADMIN[0], "password": ADMIN[1]}
    )
    body = await ok(response)
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    session = cookie.split(";")[0]
    async with client_of(auth_app, {"Cookie": session, "X-Trackledger-UI": "1"}) as browser:
        assert (await ok(await browser.get(f"{ML}/users/current")))["user"]["username"] == "admin"
        error(
            await browser.post(f"{ML}/experiments/create", json={"name": "csrf"}),
            "PERMISSION_DENIED",
            403,
        )
        await ok(
            await browser.post(
                f"{ML}/experiments/create",
                json={"name": "csrf"},
                headers={"X-CSRF-Token": body["csrf_token"]},
            )
        )
        await ok(await browser.post(f"{TL}/auth/logout"))
        response = await browser.get(f"{ML}/users/current")
        error(response, "UNAUTHENTICATED", 401)
        assert "WWW-Authenticate" not in response.headers


async def test_auth_endpoints_do_not_exist_without_auth(client):
    response = await client.get(f"{ML}/users/current")
    error(response, "ENDPOINT_NOT_FOUND", 404)
    error(
        await client.post(f"{TL}/auth/login", json={"username": "a", "password": "b"}),
        "ENDPOINT_NOT_FOUND",
        404,
    )


async def test_a_foreign_host_is_refused_with_or_without_auth(backend, tmp_path):
    from trackledger.api.app import create_app
    from trackledger.api.auth.hosts import default_allowed_hosts

    async def given():
        return backend

    # What trackledger server passes by default when it listens on 127.0.0.1.
    hosts = default_allowed_hosts("127.0.0.1")
    assert set(hosts) == {"127.0.0.1", "localhost", "::1"}
    for auth in (False, True):
        app = create_app(given, auth=auth, allowed_hosts=hosts)
        app.state.backend = backend
        async with client_of(app) as http:
            response = await http.get("/health", headers={"Host": "evil.example"})
            error(response, "PERMISSION_DENIED", 403)
            for host in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000"):
                assert (await http.get("/health", headers={"Host": host})).status_code == 200
    anything = make_app(backend, tmp_path, allowed_hosts=["*"])
    async with client_of(anything) as http:
        assert (await http.get("/health", headers={"Host": "evil.example"})).status_code == 200


def test_listening_on_every_interface_allows_the_machines_names():
    import socket

    from trackledger.api.auth.hosts import default_allowed_hosts, host_name

    hosts = default_allowed_hosts("0.0.0.0")
    assert {"localhost", "127.0.0.1", socket.gethostname().lower()} <= set(hosts)
    assert "0.0.0.0" not in hosts
    assert host_name("Example.COM:80") == "example.com" and host_name("[::1]") == "::1"


async def test_cors_is_off_unless_origins_are_named(client, backend, tmp_path):
    asked = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    response = await client.options(f"{ML}/experiments/search", headers=asked)
    assert "access-control-allow-origin" not in response.headers
    app = make_app(backend, tmp_path, cors_allowed_origins=["https://app.example"])
    async with client_of(app) as http:
        response = await http.options(f"{ML}/experiments/search", headers=asked)
    assert response.headers["access-control-allow-origin"] == "https://app.example"


async def test_logging_calls_read_as_without_auth(auth_app, admin):
    """The guard decodes a logging call once and hands it to the handler: the same rules
    for content types, lowerCamel names and escapes as without authentication."""
    experiment_id = await create_experiment(admin, "decoding")
    run_id = await create_run(admin, experiment_id)
    error(
        await admin.post(
            f"{ML}/runs/log-batch",
            content=b'{"run_id": "%s"}' % run_id.encode(),
            headers={"Content-Type": "text/plain"},
        ),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    await ok(
        await admin.post(
            f"{ML}/runs/log-batch",
            json={
                "runId": run_id,
                "metrics": [{"key": "m", "value": 1.5, "timestamp": 7, "step": 2}],
                "tags": [{"key": "quote", "value": 'say "hi" \\u00e9'}],
            },
        )
    )
    await ok(
        await admin.post(f"{ML}/runs/set-tag", json={"run_uuid": run_id, "key": "k", "value": "v"})
    )
    run = (await ok(await admin.get(f"{ML}/runs/get", params={"run_id": run_id})))["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": 1.5, "timestamp": 7, "step": 2}]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["quote"] == 'say "hi" \\u00e9' and tags["k"] == "v"


async def test_users_api(auth_app, admin, backend):
    created = await add_user(admin, "erin")
    assert created == {"id": created["id"], "username": "erin", "is_admin": False}
    before = await count_events(backend)
    error(
        await admin.post(f"{ML}/users/create", json={"username": "erin", "password": PASSWORD}),
        "RESOURCE_ALREADY_EXISTS",
        400,
    )
    error(
        await admin.post(f"{ML}/users/create", json={"username": "frank", "password": "short"}),
        "INVALID_PARAMETER_VALUE",
        400,
    )
    assert await count_events(backend) == before
    listed = await ok(await admin.get(f"{ML}/users/list"))
    assert [u["username"] for u in listed["users"]] == ["admin", "erin"]
    async with as_user(auth_app, "erin") as erin:
        me = await ok(await erin.get(f"{ML}/users/current"))
        assert me == {"user": created, "is_basic_auth": True}
        error(
            await erin.get(f"{ML}/users/get", params={"username": "admin"}),
            "PERMISSION_DENIED",
            403,
        )
        error(
            await erin.patch(
                f"{ML}/users/update-password",
                json={"username": "erin", "password": "another-long-one"},
            ),
            "INVALID_PARAMETER_VALUE",
            400,
        )
        await ok(
            await erin.patch(
                f"{ML}/users/update-password",
                json={
                    "username": "erin",
                    "password": "another-long-one",
                    "current_password": PASSWORD,
                },
            )
        )
        error(await erin.get(f"{ML}/users/current"), "UNAUTHENTICATED", 401)
    async with as_user(auth_app, "erin", "another-long-one") as erin:
        await ok(await erin.get(f"{ML}/users/current"))
        await ok(
            await admin.patch(
                f"{ML}/users/update-admin", json={"username": "erin", "is_admin": True}
            )
        )
        await ok(await erin.get(f"{ML}/users/get", params={"username": "admin"}))
    error(
        await admin.request("DELETE", f"{ML}/users/delete", json={"username": "admin"}),
        "BAD_REQUEST",
        400,
    )
    await ok(await admin.request("DELETE", f"{ML}/users/delete", json={"username": "erin"}))
    async with as_user(auth_app, "erin", "another-long-one") as erin:
        error(await erin.get(f"{ML}/users/current"), "UNAUTHENTICATED", 401)
    error(
        await admin.get(f"{ML}/users/get", params={"username": "erin"}),
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
