"""The fleet report (`python -m copier_mlops.fleet`): repositories generated at two
releases and two stages, one edited out of conformance, one reached by URL, and a folder
that is no generated project, each get their row, in the table and in JSON."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import copier
import pytest

from copier_mlops import ROOT
from copier_mlops.processes import run

from helpers.locking import lock
from helpers.template_repo import clone, commit_all, git, tag_release


def _generate(template: Path, dest: Path, version: str, stage: str) -> Path:
    copier.run_copy(
        str(template),
        dest,
        data={"maturity_stage": stage, "team_size": "solo"},
        defaults=True,
        vcs_ref=version,
        quiet=True,
    )
    lock(dest)
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "Generate")
    return dest


@pytest.fixture(scope="module")
def fleet(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tmp = tmp_path_factory.mktemp("fleet")
    template = clone(template_snapshot, tmp / "copier-mlops")
    tag_release(template, "v0.1.0")
    old_explore = _generate(template, tmp / "old-explore", "v0.1.0", "explore")
    old_deploy = _generate(template, tmp / "old-deploy", "v0.1.0", "deploy")
    (template / "template" / "NEW_IN_0.2.0.md").write_text("New.\n", encoding="utf-8")
    commit_all(template, "A file added in the next release")
    tag_release(template, "v0.2.0")
    new_deploy = _generate(template, tmp / "new-deploy", "v0.2.0", "deploy")
    (old_deploy / "Dockerfile").unlink()
    commit_all(old_deploy, "Drop the Dockerfile")
    not_generated = tmp / "not-generated"
    not_generated.mkdir()
    return {
        "old-explore": str(old_explore),
        "old-deploy": str(old_deploy),
        "new-deploy": str(new_deploy),
        "by-url": new_deploy.as_uri(),
        "not-generated": str(not_generated),
        "unreachable": (tmp / "nowhere").as_uri(),
    }


def _report(fleet: dict[str, str], *options: str) -> tuple[int, str]:
    command = [sys.executable, "-m", "copier_mlops.fleet", *fleet.values(), *options]
    proc = run(command, ROOT, check=False)
    return proc.returncode, proc.stdout


def test_the_json_report_has_a_row_per_repository(fleet: dict[str, str]) -> None:
    code, out = _report(fleet, "--json")
    assert code == 1, "one repository fails its conformance check"
    rows: dict[str, dict[str, Any]] = dict(zip(fleet, json.loads(out), strict=True))
    for name in ("old-explore", "old-deploy", "new-deploy", "by-url"):
        assert rows[name]["error"] is None, rows[name]
        assert rows[name]["team_size"] == "solo"
        assert rows[name]["problem_type"] == "classification"
        assert rows[name]["newest_release"] == "v0.2.0"

    assert rows["old-explore"]["template_version"] == "v0.1.0"
    assert rows["old-explore"]["stage"] == "explore"
    assert rows["old-explore"]["update_available"] is True
    assert rows["old-explore"]["conformance"]["passed"] is True

    assert rows["old-deploy"]["update_available"] is True
    assert rows["old-deploy"]["failed_checks"] == ["dockerfile", "non-root-image"]
    [dockerfile] = [
        c for c in rows["old-deploy"]["conformance"]["checks"] if c["id"] == "dockerfile"
    ]
    assert dockerfile["problems"][0].startswith("Dockerfile is missing: restore it")

    for name in ("new-deploy", "by-url"):
        assert rows[name]["template_version"] == "v0.2.0"
        assert rows[name]["stage"] == "deploy"
        assert rows[name]["update_available"] is False
        assert rows[name]["conformance"]["passed"] is True
        assert rows[name]["conformance"]["template_version"] == "v0.2.0"

    assert rows["not-generated"]["error"].startswith("no .copier-answers.yml")
    assert rows["unreachable"]["error"].startswith("git clone failed: fatal: ")


def test_the_table_has_a_line_per_repository(fleet: dict[str, str]) -> None:
    code, out = _report(fleet)
    assert code == 1
    header, *lines = out.splitlines()
    assert header.split() == [
        "repository",
        "template",
        "stage",
        "team",
        "problem",
        "type",
        "update",
        "conformance",
    ]
    by_repository = dict(zip(fleet, lines, strict=True))
    assert by_repository["old-explore"].split()[1:7] == [
        "v0.1.0",
        "explore",
        "solo",
        "classification",
        "yes:",
        "v0.2.0",
    ]
    assert re.search(r"pass \((\d+)/\1\)$", by_repository["old-explore"])
    assert "FAIL (" in by_repository["old-deploy"]
    assert by_repository["old-deploy"].endswith("dockerfile, non-root-image")
    assert " no " in by_repository["new-deploy"]
    assert "error: no .copier-answers.yml" in by_repository["not-generated"]
    assert "error: git clone failed: " in by_repository["unreachable"]
