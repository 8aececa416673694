"""Every route of the app, found by walking its router (mounts included), answers a wrong
method and a malformed body with MLflow's JSON error body and a 4xx, never a 500.

Nothing here lists routes: a route added later (the model registry, traces) is walked
too. Path parameters get placeholder values, so most requests reach their handler."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import httpx
import orjson
import pytest
from starlette.routing import BaseRoute, Mount, Route, compile_path

from trackledger.api import artifacts

#: Methods a client may send; HEAD and OPTIONS are left to starlette.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: Handlers whose body is the payload itself (a file upload), not JSON.
RAW_BODY = {artifacts.upload}
_PARAM = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(?::([a-zA-Z_][a-zA-Z0-9_]*))?}")


@dataclass(frozen=True)
class Leaf:
    template: str
    url: str
    methods: frozenset[str]
    raw_body: bool


def _url(template: str) -> str:
    def sample(match: re.Match[str]) -> str:
        return "0/x1/file.txt" if match.group(2) == "path" else "x1"

    return _PARAM.sub(sample, template)


def _leaves(routes: Sequence[BaseRoute], prefix: str = "") -> Iterator[Leaf]:
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                yield from _leaves(route.routes, prefix + route.path)
            else:  # a mounted app: static files
                template = prefix + route.path + "/{rest:path}"
                yield Leaf(template, _url(template), frozenset({"GET", "HEAD"}), False)
        elif isinstance(route, Route):
            template = prefix + route.path
            raw = route.endpoint in RAW_BODY
            yield Leaf(template, _url(template), frozenset(route.methods or ()), raw)
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")


def _walk(app) -> list[Leaf]:
    leaves = list(_leaves(app.routes))
    assert len(leaves) > 50, "the walk found too few routes"
    return leaves


def _allowed(leaves: list[Leaf], url: str) -> frozenset[str]:
    """Every method some route answers at ``url`` (several routes may share a path)."""
    found: set[str] = set()
    for leaf in leaves:
        if compile_path(leaf.template)[0].match(url):
            found |= leaf.methods
    return frozenset(found)


def _problem(response: httpx.Response, expect_4xx: bool) -> str | None:
    """What is wrong with ``response`` as an answer to a bad request, or None."""
    status = response.status_code
    if status >= 400 or expect_4xx:
        try:
            body = response.json()
        except ValueError:
            return f"{status} and not JSON: {response.text[:200]!r}"
        if not (
            isinstance(body, dict)
            and isinstance(body.get("error_code"), str)
            and isinstance(body.get("message"), str)
            and body["message"]
        ):
            return f"{status} without MLflow's error body: {response.text[:200]!r}"
        if response.headers.get("content-type") != "application/json":
            return f"{status} with content type {response.headers.get('content-type')}"
    if status == 501 and response.json()["error_code"] == "NOT_IMPLEMENTED":
        return None  # the artifact proxy declines multipart uploads on purpose
    if status >= 500:
        return f"{status}: {response.text[:300]!r}"
    if expect_4xx and not 400 <= status < 500:
        return f"{status} instead of a 4xx: {response.text[:200]!r}"
    return None


# Routing answers a wrong method before any handler reads the store: on SQLite only (on
# both, 8 s more of CI on a slow machine for the same answers).
@pytest.mark.parametrize("store_uri", ["sqlite"], indirect=True)
async def test_every_route_answers_a_wrong_method_with_a_json_405(edge_app, edge_client):
    leaves = _walk(edge_app)
    problems = []
    tried = 0
    for leaf in leaves:
        allowed = _allowed(leaves, leaf.url)
        for method in sorted(set(METHODS) - allowed):
            response = await edge_client.request(method, leaf.url, json={})
            tried += 1
            problem = _problem(response, expect_4xx=True)
            if problem is None and response.status_code != 405:
                problem = f"{response.status_code} instead of 405"
            if problem is None and response.json()["error_code"] != "ENDPOINT_NOT_FOUND":
                problem = f"error_code {response.json()['error_code']}"
            if problem is None and set(response.headers["allow"].split(", ")) != allowed:
                problem = f"Allow: {response.headers['allow']} instead of {sorted(allowed)}"
            if problem:
                problems.append(f"{method} {leaf.template}: {problem}")
    assert tried > 100
    assert not problems, "\n".join(problems)


def _nested_objects(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


def _nested_arrays(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


WRONG_TYPES = orjson.dumps(
    {
        "experiment_id": {"x": 1},
        "experiment_ids": "1",
        "run_id": [1],
        "run_uuid": 7,
        "name": ["n"],
        "key": {},
        "value": [],
        "max_results": "many",
        "page_token": 5,
        "filter": 7,
        "order_by": 3,
        "tags": "t",
        "metrics": {"m": 1},
        "params": 1.5,
        "status": [],
        "older_than": 30,
        "after": [],
        "as_of": "then",
    }
)

#: Bodies that are not an acceptable JSON request: a route that reads a JSON body must
#: answer each with a 4xx; wrongly typed fields (which a route may not read) must not 500.
BODIES = {
    "not-json": b"{not json",
    "truncated": b'{"run_id": "abc',
    "array": b"[1, 2]",
    "scalar": b"42",
    "string-of-garbage": b'"{not json"',
    "nested-65": _nested_objects(65),
    "nested-objects-600": _nested_objects(600),
    "nested-arrays-1000": _nested_arrays(1000),
    "nested-arrays-5000": _nested_arrays(5000),
    "field-nested-800": b'{"run_id": "x", "experiment_id": "1", "junk": '
    + _nested_arrays(800)
    + b"}",
    "wrong-types": WRONG_TYPES,
}


@pytest.mark.parametrize("kind", sorted(BODIES))
async def test_every_route_answers_a_malformed_body_with_a_json_4xx(edge_app, edge_client, kind):
    body = BODIES[kind]
    problems = []
    json_routes = 0
    for leaf in _walk(edge_app):
        for method in sorted(leaf.methods & set(METHODS)):
            response = await edge_client.request(
                method, leaf.url, content=body, headers={"content-type": "application/json"}
            )
            # A route that reads JSON refuses a body that is not JSON; one that reads no
            # body (health, downloads, deletes by path) may answer as usual.
            reads_json = not leaf.raw_body and not (method != "POST" and response.status_code < 400)
            expect_4xx = reads_json and kind != "wrong-types"
            problem = _problem(response, expect_4xx)
            if problem:
                problems.append(f"{method} {leaf.template}: {problem}")
            if expect_4xx:
                json_routes += 1
    assert not problems, "\n".join(problems)
    if kind != "wrong-types":
        assert json_routes > 50, "too few routes read the body"
