"""MLflow's limits on names and values, as the reference server applies them.

Each check raises ``InvalidInput`` with the reference server's wording where clients or
users may depend on it (reference/mlflow-rest-api.md section 7).
"""

from __future__ import annotations

import posixpath
import re

from trackledger.eventlog.errors import InvalidInput

MAX_ENTITY_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_KEY_LENGTH = 250
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
MAX_ARTIFACT_LOCATION_LENGTH = 2048
MAX_RUN_NAME_LENGTH = 250
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DATASET_NAME_LENGTH = 500
MAX_DATASET_DIGEST_LENGTH = 36
MAX_DATASET_SOURCE_LENGTH = 65535
MAX_DATASET_SCHEMA_LENGTH = 1048575
MAX_DATASET_PROFILE_LENGTH = 16777215
MAX_INPUT_TAG_KEY_LENGTH = 255
MAX_INPUT_TAG_VALUE_LENGTH = 500
MAX_INT64 = 2**63 - 1

_NAME_CHARS = re.compile(r"^[/\w.\- :]*$")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")


def missing(field: str) -> InvalidInput:
    return InvalidInput(
        f"Missing value for required parameter '{field}'. "
        "See the API docs for more information about request parameters."
    )


def require(value: str | None, field: str) -> str:
    """Return ``value`` or raise: MLflow treats None and "" alike as missing."""
    if value is None or value == "":
        raise missing(field)
    return value


def check_length(value: str, limit: int, field: str) -> None:
    if len(value) > limit:
        raise InvalidInput(f"'{field}' exceeds the maximum length of {limit} characters")


#: Names already accepted: clients repeat a few keys endlessly.
KNOWN_NAMES: set[str] = set()


def check_entity_name(name: str, field: str) -> None:
    """A metric, param or tag key: allowed characters, a clean path, at most 250 chars."""
    if name in KNOWN_NAMES:
        return
    if not _NAME_CHARS.match(name):
        raise InvalidInput(
            f"Invalid value \"{name}\" for parameter '{field}' supplied: Names may only "
            "contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), "
            "colon(:) and slashes (/)."
        )
    norm = posixpath.normpath(name)
    if norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"):
        raise InvalidInput(
            f"Invalid value \"{name}\" for parameter '{field}' supplied: Names may be "
            "treated as files in certain cases, and must not resolve to other names when "
            f"treated as such. This name would resolve to '{norm}'"
        )
    check_length(name, MAX_ENTITY_KEY_LENGTH, field)
    if len(KNOWN_NAMES) < 100_000:
        KNOWN_NAMES.add(name)


def check_run_id(run_id: str, field: str = "run_id") -> None:
    if not _RUN_ID.match(run_id):
        raise InvalidInput(f"Invalid value \"{run_id}\" for parameter '{field}' supplied.")


def check_experiment_id(experiment_id: str) -> int:
    """Experiment ids are integers rendered as strings; return the integer."""
    try:
        value = int(experiment_id)
    except (TypeError, ValueError):
        value = -1
    if value < 0 or value > MAX_INT64 or str(value) != experiment_id.strip():
        raise InvalidInput(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        )
    return value


def check_experiment_name(name: str | None) -> str:
    if name is None or not name.strip():
        raise missing("name")
    check_length(name, MAX_EXPERIMENT_NAME_LENGTH, "name")
    return name


def check_artifact_location(location: str) -> None:
    check_length(location, MAX_ARTIFACT_LOCATION_LENGTH, "artifact_location")
    if "#" in location or "?" in location:
        raise InvalidInput(
            f"'artifact_location' URL can't include fragments or params: {location!r}"
        )
    if location.startswith("runs:"):
        raise InvalidInput("'artifact_location' cannot be a runs:/ URI")


def check_metric_value(value: object, field: str) -> float:
    # bool is an int subclass; MLflow refuses it as a metric value.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(
            f"Got invalid value {value!r} for metric '{field}'. "
            "Please specify value as a valid double (64-bit floating point)"
        )
    return float(value)


def check_timestamp(value: int, field: str) -> None:
    if value < 0 or value > MAX_INT64:
        raise InvalidInput(
            f"Got invalid timestamp {value} for metric '{field}'. "
            "Timestamp must be a nonnegative long (64-bit integer) "
        )


def check_step(value: int, field: str) -> None:
    if value < -MAX_INT64 - 1 or value > MAX_INT64:
        raise InvalidInput(
            f"Got invalid step {value} for metric '{field}'. Step must be a valid long "
            "(64-bit integer)."
        )


def truncate(value: str, limit: int) -> str:
    """MLflow's default (MLFLOW_TRUNCATE_LONG_VALUES): long param/tag values are cut."""
    return value if len(value) <= limit else value[:limit]
