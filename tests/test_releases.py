"""Releases: every tag has its changelog section, and the documented pinned rollout with
the sample organisation defaults applies them, at the pinned release."""

from __future__ import annotations

import re
from pathlib import Path

import copier
import pytest
import yaml

from copier_mlops import ROOT
from copier_mlops.processes import run

from helpers.template_repo import (
    append_and_commit,
    bash_commands,
    clone,
    commit_all,
    git,
    only_command,
    run_documented,
    tag_release,
)

CHANGELOG = ROOT / "CHANGELOG.md"
UPDATING = ROOT / "docs" / "updating.md"
ORG_DEFAULTS = ROOT / "docs" / "examples" / "org-defaults.yml"
ROLLOUT = "For platform teams: a pinned rollout"
# The docs' stand-ins for the template's URL and the organisation's data file.
DOC_URL = "https://github.com/<owner>/copier-mlops"
DOC_DATA_FILE = "--data-file org-defaults.yml"
IN_THE_PIN, AFTER_THE_PIN = "A change in the pinned release.", "A change after the pin."

SEMVER = r"(\d+)\.(\d+)\.(\d+)"
RELEASE_HEADING = re.compile(rf"## \[{SEMVER}\] - (\d{{4}}-\d{{2}}-\d{{2}})")
UNRELEASED_HEADING = "## [Unreleased]"


def _sections() -> dict[str, str]:
    """The changelog's `## ` sections by heading, in order."""
    sections: dict[str, str] = {}
    heading = None
    for line in CHANGELOG.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = line
            sections[heading] = ""
        elif heading is not None:
            sections[heading] += line + "\n"
    return sections


def _release_tags() -> list[str]:
    """The repository's `v*` tags; none in a clone made without tags (or no clone)."""
    if not (ROOT / ".git").exists():
        return []
    return run(["git", "tag", "--list", "v*"], ROOT).stdout.split()


def test_changelog_versions_are_semantic_and_descending() -> None:
    sections = _sections()
    assert sections, "CHANGELOG.md has no sections"
    versions: list[tuple[int, ...]] = []
    for index, heading in enumerate(sections):
        if heading == UNRELEASED_HEADING:
            assert index == 0, "[Unreleased] comes first"
        else:
            match = RELEASE_HEADING.fullmatch(heading)
            assert match, f"not '## [X.Y.Z] - YYYY-MM-DD': {heading!r}"
            versions.append(tuple(int(part) for part in match.groups()[:3]))
        assert "### Updating" in sections[heading], f"{heading}: no Updating notes"
    assert versions == sorted(versions, reverse=True), "versions must descend"
    assert len(set(versions)) == len(versions), "a version is listed twice"


def test_every_release_tag_has_a_changelog_section() -> None:
    released = {
        (match.group(1), match.group(2), match.group(3)): match.group(4)
        for heading in _sections()
        if (match := RELEASE_HEADING.fullmatch(heading))
    }
    for tag in _release_tags():
        match = re.fullmatch(rf"v{SEMVER}", tag)
        assert match, f"tag {tag} is not a semantic version vX.Y.Z"
        kind = run(["git", "cat-file", "-t", f"refs/tags/{tag}"], ROOT).stdout.strip()
        assert kind == "tag", f"{tag} is a lightweight tag; releases are annotated"
        assert match.groups() in released, f"CHANGELOG.md has no section for {tag}"
        date = run(["git", "tag", "--list", "--format=%(taggerdate:short)", tag], ROOT)
        assert released[match.groups()] == date.stdout.strip(), f"{tag}: date differs"


def _pinned_release() -> str:
    command = only_command(UPDATING, ROLLOUT, "copier update")
    match = re.search(r"--vcs-ref (\S+)", command)
    assert match, f"the rollout pins no release: {command}"
    return match.group(1)


def _as_run_here(command: str, template: Path) -> str:
    """A rollout command with the docs' stand-ins replaced by this test's template
    clone and the sample data file, and nothing else changed."""
    if "copier" in command:
        assert DOC_DATA_FILE in command, command
    command = command.replace(DOC_DATA_FILE, f"--data-file {ORG_DEFAULTS}")
    return command.replace(DOC_URL, str(template))


def _assert_applied(project: Path, release: str) -> None:
    """The project is at `release`, not the newer one, and has the organisation's
    answers, recorded and rendered into its files."""
    org = yaml.safe_load(ORG_DEFAULTS.read_text(encoding="utf-8"))
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    assert answers["_commit"] == release
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert IN_THE_PIN in readme and AFTER_THE_PIN not in readme
    rendered = "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.parts and path.name != ".copier-answers.yml"
    )
    for key, value in org.items():
        assert answers.get(key) == value, f"{key}: {answers.get(key)!r}, not {value!r}"
        # The policy is rendered as conformance.toml's org-policy check
        # (tests/test_conformance.py).
        if key != "org_policy":
            assert str(value) in rendered, f"{key}: {value!r} is in no generated file"


@pytest.fixture
def template(template_snapshot: Path, tmp_path: Path) -> Path:
    """A clone whose first commit comes before the pinned release, and with a newer
    release after the pin."""
    template = clone(template_snapshot, tmp_path / "copier-mlops")
    pinned = _pinned_release()
    append_and_commit(template, "template/README.md.jinja", IN_THE_PIN)
    tag_release(template, pinned)
    append_and_commit(template, "template/README.md.jinja", AFTER_THE_PIN)
    major = int(re.fullmatch(rf"v{SEMVER}", pinned).group(1))  # type: ignore[union-attr]
    tag_release(template, f"v{major + 1}.0.0")
    return template


def test_pinned_rollout_generates_with_the_org_defaults(template: Path, tmp_path: Path) -> None:
    command = _as_run_here(only_command(UPDATING, ROLLOUT, "copier copy"), template)
    run_documented(command, tmp_path)
    project = re.split(r"\s+", command.strip())[-1]
    _assert_applied(tmp_path / project, _pinned_release())


def test_pinned_rollout_updates_with_the_org_defaults(template: Path, tmp_path: Path) -> None:
    project = tmp_path / "existing"
    before_the_pin = git(template, "rev-list", "--max-parents=0", "HEAD").strip()
    copier.run_copy(
        str(template), project, defaults=True, unsafe=False, quiet=True, vcs_ref=before_the_pin
    )
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    # The rollout's steps for an existing repository (a branch for review, the update).
    for command in bash_commands(UPDATING, ROLLOUT):
        if "copier copy" not in command:
            run_documented(_as_run_here(command, template), project)
    _assert_applied(project, _pinned_release())
