"""An OpenAPI 3.1 document of the API at ``/openapi.json``, generated from the app itself.

Operations come from the app's routes; each handler's request struct (the one it decodes
with ``wire.read``) gives the body of a POST/PATCH or the query parameters of a GET, through
msgspec's JSON Schema generator. So a new route or field shows up without anyone writing
the document by hand. Answers are described by MLflow's error shape; success bodies are
documented as JSON objects (their shapes are MLflow's, see mlflow/protos).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from trackledger import __version__

__all__ = ["document", "endpoint", "operations"]

#: Prefixes served twice (the UI's /ajax-api copy) are documented once.
_DUPLICATES = ("/ajax-api/",)
_ERROR = {
    "type": "object",
    "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    "required": ["error_code", "message"],
}


def operations(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str, Route]]:
    """(method, path template, route) for every route, through mounts."""
    for route in routes:
        if isinstance(route, Mount):
            yield from operations(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path, route


def _request_struct(handler: Callable[..., Any]) -> type[msgspec.Struct] | None:
    """The struct ``handler`` decodes its request into (``read(request, Struct)``)."""
    handler = inspect.unwrap(handler)
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(handler)))
    except (OSError, TypeError, SyntaxError):
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "read"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Name)
        ):
            found = handler.__globals__.get(node.args[1].id)
            if isinstance(found, type) and issubclass(found, msgspec.Struct):
                return found
    return None


def document(routes: list[BaseRoute]) -> dict[str, Any]:
    found = [
        (method, path, route, _request_struct(route.endpoint))
        for method, path, route in operations(routes)
        if not path.startswith(_DUPLICATES)
    ]
    structs = sorted({s for *_, s in found if s is not None}, key=lambda s: s.__name__)
    schemas, components = msgspec.json.schema_components(
        structs, ref_template="#/components/schemas/{name}"
    )
    by_struct = dict(zip(structs, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for method, path, route, struct in found:
        operation: dict[str, Any] = {
            "operationId": f"{method.lower()}{path.replace('/', '_').replace('-', '_')}",
            "responses": {
                "200": {"description": "OK"},
                "default": {
                    "description": "An error in MLflow's shape",
                    "content": {"application/json": {"schema": _ERROR}},
                },
            },
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.param_convertors
        ]
        if struct is not None and method == "GET":
            name = by_struct[struct]["$ref"].rsplit("/", 1)[-1]  # qualified if names clash
            parameters += _query_parameters(components[name])
        elif struct is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": by_struct[struct]}},
            }
        if parameters:
            operation["parameters"] = parameters
        paths.setdefault(_openapi_path(path), {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "trackledger", "version": __version__},
        "paths": paths,
        "components": {"schemas": components},
    }


def _openapi_path(path: str) -> str:
    """Starlette's ``{name:path}`` is OpenAPI's ``{name}``."""
    return path.replace(":path}", "}")


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": field}
        for name, field in schema.get("properties", {}).items()
    ]


async def endpoint(request: Request) -> Response:
    body: bytes | None = getattr(request.app.state, "openapi", None)
    if body is None:
        body = request.app.state.openapi = orjson.dumps(document(request.app.routes))
    return Response(body, media_type="application/json")
