"""Page sizes MLflow accepts (reference section 6.7)."""

from __future__ import annotations

from trackledger.api.errors import ApiError

__all__ = ["MAX_PAGE_SIZE", "page_size"]

MAX_PAGE_SIZE = 50_000


def page_size(
    value: int | None, *, default: int, field: str = "max_results", most: int | None = MAX_PAGE_SIZE
) -> int:
    """``value`` (or ``default``), refused unless positive and at most ``most``."""
    if value is None:
        return default
    if value <= 0:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {value} for parameter '{field}' supplied. It must be a positive "
            "integer",
        )
    if most is not None and value > most:
        raise ApiError(
            "INVALID_PARAMETER_VALUE",
            f"Invalid value {value} for parameter '{field}' supplied. It must be at most {most}",
        )
    return value
