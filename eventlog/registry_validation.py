"""The model registry's limits on names, tags, aliases, versions and stages, with MLflow's
wording (mlflow/utils/validation.py, mlflow/entities/model_registry/model_version_stages.py)."""

from __future__ import annotations

import json
import posixpath
import re

from trackledger.eventlog import validation as v
from trackledger.eventlog.command_base import TagIn
from trackledger.eventlog.errors import InvalidInput
from trackledger.eventlog.event_base import Tag

__all__ = [
    "ALL_STAGES",
    "DELETED_STAGE",
    "IS_PROMPT_TAG",
    "PROMPT_SOURCES",
    "STAGE_ARCHIVED",
    "STAGE_NONE",
    "canonical_stage",
    "check_alias",
    "check_alias_not_reserved",
    "check_model_name",
    "check_tag",
    "check_tag_key",
    "check_tags",
    "check_version",
    "is_prompt",
]

STAGE_NONE = "None"
STAGE_STAGING = "Staging"
STAGE_PRODUCTION = "Production"
STAGE_ARCHIVED = "Archived"
#: A deleted version keeps its number (never handed out again) in this stage.
DELETED_STAGE = "Deleted_Internal"
ALL_STAGES = (STAGE_NONE, STAGE_STAGING, STAGE_PRODUCTION, STAGE_ARCHIVED)
ACTIVE_STAGES = (STAGE_STAGING, STAGE_PRODUCTION)
_CANONICAL = {stage.lower(): stage for stage in ALL_STAGES}

MAX_MODEL_NAME_LENGTH = 256
MAX_TAG_KEY_LENGTH = 250
MAX_TAG_VALUE_LENGTH = 100_000
MAX_ALIAS_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 5000
MAX_SOURCE_LENGTH = 500

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
#: The sources MLflow's own clients send for prompt versions (which have no files).
PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})

_ALIAS = re.compile(r"^[\w\-]*$")
_VERSION_ALIAS = re.compile(r"^[vV]\d+$")
_TAG_KEY = re.compile(r"^[/\w.\- :]*$")


def _invalid_value(field: str, value: str, message: str) -> InvalidInput:
    shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return InvalidInput(f"Invalid value {shown} for parameter '{field}' supplied: {message}")


def _bad_path(name: str) -> str | None:
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"):
        return (
            "Names may be treated as files in certain cases, and must not resolve to other "
            f"names when treated as such. This name would resolve to {norm!r}"
        )
    return None


def check_model_name(name: str | None, field: str = "name") -> str:
    if name is None or name.strip() == "":
        raise v.missing(field)
    if "/" in name or ":" in name:
        raise InvalidInput(f"Invalid model name '{name}'. Names cannot contain '/' or ':'.")
    problem = _bad_path(name)
    if problem is not None:
        raise _invalid_value(field, name, problem)
    v.check_length(name, MAX_MODEL_NAME_LENGTH, field)
    return name


def check_tag_key(key: str | None) -> str:
    if key is None or key == "":
        raise v.missing("key")
    if not _TAG_KEY.match(key):
        raise _invalid_value(
            "key",
            key,
            "Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), "
            "spaces ( ), colon(:) and slashes (/).",
        )
    problem = _bad_path(key)
    if problem is not None:
        raise _invalid_value("key", key, problem)
    return key


def check_tag(key: str | None, value: str | None) -> Tag:
    """A registered model's or model version's tag (an absent value is the empty string)."""
    key = check_tag_key(key)
    v.check_length(key, MAX_TAG_KEY_LENGTH, "key")
    value = value or ""
    v.check_length(value, MAX_TAG_VALUE_LENGTH, "value")
    return Tag(key, value)


def check_tags(tags: list[TagIn]) -> list[Tag]:
    """Checked tags; a key given twice keeps its last value, as MLflow stores them."""
    out: dict[str, Tag] = {}
    for tag in tags:
        checked = check_tag(tag.key, tag.value)
        out[checked.key] = checked
    return list(out.values())


def check_version(version: str | None, field: str = "version") -> int:
    if version is None or version == "":
        raise v.missing(field)
    try:
        return int(version)
    except ValueError:
        raise InvalidInput(f"Parameter '{field}' must be an integer, got '{version}'.") from None


def check_alias(alias: str | None) -> str:
    if alias is None or alias == "":
        raise InvalidInput("Registered model alias name cannot be empty.")
    if not _ALIAS.match(alias):
        raise InvalidInput(
            f"Invalid alias name: '{alias}'. Names may only contain alphanumerics, "
            "underscores (_), and dashes (-)."
        )
    v.check_length(alias, MAX_ALIAS_LENGTH, "Registered model alias name")
    return alias


def check_alias_not_reserved(alias: str) -> None:
    if alias.lower() == "latest":
        raise InvalidInput("'latest' alias name (case insensitive) is reserved.")
    if _VERSION_ALIAS.match(alias):
        raise InvalidInput(f"Version alias name '{alias}' is reserved.")


def canonical_stage(stage: str) -> str:
    found = _CANONICAL.get(stage.lower())
    if found is None:
        raise InvalidInput(
            f"Invalid Model Version stage: {stage}. Value must be one of {', '.join(ALL_STAGES)}."
        )
    return found


def is_prompt(tags: dict[str, str]) -> bool:
    return tags.get(IS_PROMPT_TAG, "false").lower() == "true"
