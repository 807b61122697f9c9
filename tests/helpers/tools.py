"""Tools a test needs from the machine (a server's binary): found, or the test skipped,
or failed under `.ci/run`, which installs them first."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from copier_mlops import servers

from helpers.python_versions import REQUIRE_ENV


def need(find: Callable[[], str]) -> str:
    """What `find` finds; skips the test, or fails it when REQUIRE_ENV is set, when it is
    missing."""
    try:
        return find()
    except servers.MissingToolError as missing:
        if os.environ.get(REQUIRE_ENV):
            pytest.fail(f"{missing} (.ci/run installs it)")
        pytest.skip(f"{missing} ({REQUIRE_ENV} makes this fail)")
