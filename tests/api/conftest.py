"""Fixtures of the API tests with authentication on (see auth_helpers.py)."""

from tests.api.auth_helpers import admin, anonymous, auth_app

__all__ = ["admin", "anonymous", "auth_app"]
