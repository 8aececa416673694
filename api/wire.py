"""Decode requests the way MLflow's server does (reference section 1.2).

- POST bodies are JSON objects with ``Content-Type: application/json``; a double-encoded
  body (a JSON string holding JSON) is decoded twice;
- field names may be snake_case or lowerCamel, not both for one field;
- int64 fields take numbers or numeric strings, doubles take "NaN"/"Infinity"/"-Infinity";
- GET parameters come from the query string (repeated keys for lists), or from a JSON body
  when there is no query string;
- unknown fields are ignored; a wrongly typed field is a 400 that names it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar

import msgspec
import orjson
from starlette.requests import Request

from trackledger.api.errors import ApiError

__all__ = ["DECODED", "Int32", "Int64", "decode", "read"]

#: Scope key of a request already decoded (kind, value): the auth guard decodes the body
#: of a logging call once to find its run, and the handler takes the same value.
DECODED = "trackledger.decoded"

T = TypeVar("T")

Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
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


def _normalize(value: Any) -> Any:
    """Snake-case every object key, refusing two spellings of one field."""
    if isinstance(value, list):
        return [_normalize(v) for v in value]
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
        out[snake] = _normalize(item) if isinstance(item, (dict, list)) else item
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


async def _body_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
        if isinstance(data, str):  # double-encoded by old clients
            data = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            "INVALID_PARAMETER_VALUE", f"Malformed JSON in the request body: {exc}"
        ) from None
    return data


def _query(request: Request, lists: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in request.query_params.multi_items():
        name = _snake(key)
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
    if request.method == "GET":
        data: Any = _query(request, lists) if request.url.query else await _body_json(request)
    elif request.method in ("POST", "PUT"):
        content_type = request.headers.get("content-type")
        if content_type is None:
            raise ApiError(
                "INVALID_PARAMETER_VALUE", "Bad Request. Content-Type header is missing."
            )
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ApiError(
                "INVALID_PARAMETER_VALUE",
                "Bad Request. Content-Type must be one of ['application/json'].",
            )
        raw = await request.body()
        if raw[:1] == b"{" and b"\\u" not in raw and not _has_camel_field(raw, kind):
            # No field in lowerCamel: decode straight into ``kind``. Anything this
            # refuses takes the general path below, which words the error.
            try:
                return msgspec.json.decode(raw, type=kind, strict=False)
            except msgspec.DecodeError:
                pass
        data = await _body_json(request)
    else:  # MLflow parses PATCH and DELETE bodies without looking at the content type
        data = await _body_json(request)
    return decode(_normalize(data), kind)
