"""service.yml, the prediction service's contract, says what its readers need."""

from __future__ import annotations

import re

from copier_mlops.service import SERVICE

ROLES = {"health", "ready", "predict", "metrics"}


def test_port_is_one_a_user_may_listen_on() -> None:
    assert 1024 <= SERVICE.port <= 65535, "a port below 1024 needs root; the image runs as a user"


def test_every_endpoint_the_checks_probe_has_one_path() -> None:
    assert set(SERVICE.paths) >= ROLES, (
        f"service.yml names no path for {ROLES - set(SERVICE.paths)}"
    )
    paths = list(SERVICE.paths.values())
    assert all(re.fullmatch(r"/[a-z0-9/_-]*", path) for path in paths), paths
    assert len(set(paths)) == len(paths), "two endpoints share a path"


def test_settings_are_named_as_the_project_names_its_settings() -> None:
    """Lower-case Python names, which the project's settings class declares and the
    environment sets with its prefix (MY_PROJECT_MODEL_URI)."""
    assert {"model", "prediction_log"} <= set(SERVICE.settings)
    for name in SERVICE.settings.values():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name), name
    assert (
        SERVICE.env_name("MY_PROJECT_", "model")
        == f"MY_PROJECT_{SERVICE.settings['model'].upper()}"
    )
