"""Model version sources: which URIs a version may be registered from (MLflow 3.17's rules).

Pure functions over the URI text; the checks that need the run, the logged model or another
model version live in ``decide_versions.py`` and use these.

- A source that names a host the server would connect to (``http://``, ``https://``, ``ftp://``,
  ``mlflow-artifacts://host``...) is refused: this server trusts no host.
- A source holding relative path parts (``..``, also percent-encoded) or a NUL is refused.
- A local path (no scheme, or ``file:``) is refused: it could only be accepted inside a run's
  local artifact directory, and runs here store their artifacts behind the server
  (``mlflow-artifacts:/``).
- ``runs:/<run_id>/...`` must name the ``run_id`` sent along; ``models:/<model_id>`` the
  ``model_id``; ``mlflow-artifacts:/...`` must lie under that run's (or logged model's)
  artifact root.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from typing import NamedTuple

from trackledger.eventlog.errors import InvalidInput

__all__ = [
    "ParsedModelUri",
    "check_host",
    "check_relative_paths",
    "invalid_source",
    "is_artifact_source",
    "is_local",
    "is_within",
    "parse_models_uri",
    "runs_uri_run_id",
]

#: Schemes whose URIs make the server connect to the host they name.
_HOST_SCHEMES = frozenset(
    {"ftp", "sftp", "hdfs", "viewfs", "http", "https", "mlflow-artifacts", "r2", "b2", "abfss"}
)
_LATEST = "latest"


class ParsedModelUri(NamedTuple):
    model_id: str | None = None
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    alias: str | None = None


def invalid_source(source: str, field: str) -> InvalidInput:
    return InvalidInput(
        f"Invalid model version source: '{source}'. The {field} request parameter must "
        "identify the resource that contains the source."
    )


def _scheme(uri: str) -> str:
    scheme = urllib.parse.urlparse(uri).scheme
    return "" if len(scheme) == 1 and scheme.isalpha() else scheme


def check_host(source: str) -> None:
    """Refuse a source that would make the server connect to a host it names."""
    scheme = _scheme(source)
    if scheme not in _HOST_SCHEMES:
        return
    if scheme == "mlflow-artifacts" and not urllib.parse.urlparse(source).netloc:
        return  # resolves against this server
    raise InvalidInput(
        f"'source' cannot use the '{scheme}' scheme: the '{scheme}' scheme addresses a host "
        "other than the tracking server's configured artifact storage, so the server would "
        "connect to the host named in the URI."
    )


def check_relative_paths(source: str) -> None:
    """Refuse ``..`` parts, NULs and paths that do not normalize to themselves."""
    message = (
        f"Invalid model version source: '{source}'. If supplying a source as an http, https, "
        "local file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be "
        "provided without relative path references present. Please provide an absolute path."
    )
    while (unquoted := urllib.parse.unquote_plus(source)) != source:
        source = unquoted
    path = re.sub(r"/+", "/", urllib.parse.urlparse(source).path.rstrip("/"))
    if "\x00" in path or any(part == ".." for part in source.split("/")):
        raise InvalidInput(message)
    if not path.startswith("/") or posixpath.normpath(path) != path:
        raise InvalidInput(message)


def is_local(source: str) -> bool:
    """Whether ``source`` is a path on the server's own disk (MLflow's ``is_local_uri``)."""
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "":
        return True
    try:
        hostname = parsed.hostname
    except ValueError:
        hostname = None
    remote = bool(hostname) and not (
        hostname == "." or str(hostname).startswith(("localhost", "127.0.0.1"))
    )
    if parsed.scheme == "file":
        if remote:
            raise InvalidInput(
                f"{source} is not a valid remote uri. For remote access on windows, please "
                "consider using a different scheme such as SMB (e.g. smb://<hostname>/<path>)."
            )
        return True
    return False


def runs_uri_run_id(source: str) -> str | None:
    """The run id of a ``runs:/<run_id>/...`` URI, or None if it is not a proper one."""
    path = urllib.parse.urlparse(source).path
    if not path.startswith("/") or len(path) <= 1:
        return None
    return path[1:].split("/")[0] or None


def _improper(uri: str) -> InvalidInput:
    return InvalidInput(
        f"Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/name/suffix' "
        "or 'models:/name@alias' where suffix is a version, stage, or the string 'latest' and "
        "where alias is a registered model alias. Only one of suffix or alias can be defined "
        "at a time."
    )


def parse_models_uri(uri: str) -> ParsedModelUri:
    """``models:/<model_id>``, ``models:/name/<version|stage|latest>`` or ``models:/name@alias``."""
    parsed = urllib.parse.urlparse(uri, allow_fragments=False)
    path = parsed.path
    if parsed.scheme != "models" or not path.startswith("/") or len(path) <= 1:
        raise _improper(uri)
    parts = path.lstrip("/").split("/")
    if len(parts) > 2 or parts[0].strip() == "":
        raise _improper(uri)
    if len(parts) == 2:
        name, suffix = parts
        if suffix.strip() == "":
            raise _improper(uri)
        if suffix.isdigit():
            return ParsedModelUri(name=name, version=suffix)
        if suffix.lower() == _LATEST:
            return ParsedModelUri(name=name)
        return ParsedModelUri(name=name, stage=suffix)
    if "@" in path:
        name, _, alias = parts[0].rpartition("@")
        if not name or alias.strip() == "":
            raise _improper(uri)
        return ParsedModelUri(name=name, alias=alias)
    return ParsedModelUri(model_id=parts[0])


def _parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    parsed = urllib.parse.urlsplit(uri)

    def unquote(part: str) -> str:
        while (unquoted := urllib.parse.unquote(part)) != part:
            part = unquoted
        return part

    parts = tuple(unquote(p) for p in parsed.path.split("/") if p)
    return parsed.scheme.lower(), parsed.netloc.lower(), parts


def is_within(source: str, root: str) -> bool:
    """Whether ``source`` lies under the artifact root ``root`` (same scheme and host)."""
    scheme, host, parts = _parts(source)
    root_scheme, root_host, root_parts = _parts(root)
    return (
        scheme == root_scheme
        and host == root_host
        and bool(root_parts)
        and parts[: len(root_parts)] == root_parts
    )


def is_artifact_source(source: str) -> bool:
    """An ``mlflow-artifacts:`` URI, or an http(s) URL into an artifact proxy."""
    scheme, _, parts = _parts(source)
    if scheme == "mlflow-artifacts":
        return True
    route = ("api", "2.0", "mlflow-artifacts", "artifacts")
    return scheme in ("http", "https") and any(
        parts[i : i + len(route)] == route for i in range(len(parts) - len(route) + 1)
    )
