"""The fleet report: for each repository generated from this template, its template
version, stage, team size and problem type, whether a newer release is out, and its
conformance.

    uv run python -m copier_mlops.fleet PATH_OR_GIT_URL... [--json]

A git URL is cloned shallowly into a temporary folder. Each repository's own checker
(`src/<package>/conformance.py`, from the template version the repository is at) runs
with this interpreter. The newest release is the newest `vX.Y.Z` tag of the template
source the repository recorded (`_src_path`), as `git ls-remote --tags` lists it. A
repository that cannot be read gets a row with the error.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ANSWERS_FILE = ".copier-answers.yml"
_RELEASE = re.compile(r"v(\d+)\.(\d+)\.(\d+)")
# Copier's shortcuts for hosted repositories.
_SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
COLUMNS = ("repository", "template", "stage", "team", "problem type", "update", "conformance")


@dataclass
class Row:
    """One repository's line of the report; `error` says why the rest is missing."""

    repository: str
    template_version: str | None = None
    stage: str | None = None
    team_size: str | None = None
    problem_type: str | None = None
    newest_release: str | None = None
    update_available: bool | None = None
    conformance: dict[str, Any] | None = None
    error: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def cells(self) -> tuple[str, ...]:
        if self.error is not None:
            return (self.repository, f"error: {self.error}", "", "", "", "", "")
        if self.update_available is None:
            update = "unknown"
        else:
            update = f"yes: {self.newest_release}" if self.update_available else "no"
        return (
            self.repository,
            self.template_version or "?",
            self.stage or "?",
            self.team_size or "?",
            self.problem_type or "?",
            update,
            _conformance_cell(self),
        )


def _conformance_cell(row: Row) -> str:
    if row.conformance is None:
        return "not checked"
    if "error" in row.conformance:
        return f"error: {row.conformance['error']}"
    total = len(row.conformance["checks"])
    if not row.failed_checks:
        return f"pass ({total}/{total})"
    passed = total - len(row.failed_checks)
    return f"FAIL ({passed}/{total}): {', '.join(row.failed_checks)}"


def is_url(source: str) -> bool:
    return "://" in source or source.startswith(("git@", *_SHORTCUTS))


def git_url(source: str) -> str:
    for shortcut, prefix in _SHORTCUTS.items():
        if source.startswith(shortcut):
            return prefix + source.removeprefix(shortcut)
    return source


def _git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


@contextmanager
def checked_out(source: str) -> Iterator[Path]:
    """The repository at `source`: a local folder as it is, a URL cloned shallowly."""
    if not is_url(source):
        yield Path(source)
        return
    with tempfile.TemporaryDirectory(prefix="fleet-") as folder:
        clone = Path(folder) / "repository"
        _git("clone", "--quiet", "--depth", "1", git_url(source), str(clone))
        yield clone


def release(version: str | None) -> tuple[int, int, int] | None:
    """The release a described version is at or after (`v1.2.0-3-gabc1234` is 1.2.0)."""
    match = _RELEASE.match(version or "")
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def newest_release(template: str) -> str | None:
    """The newest `vX.Y.Z` tag of the template repository at `template`."""
    listing = _git("ls-remote", "--tags", git_url(template))
    tags = {
        line.split("refs/tags/", 1)[1].removesuffix("^{}")
        for line in listing.splitlines()
        if "refs/tags/" in line
    }
    releases = [tag for tag in tags if _RELEASE.fullmatch(tag)]
    return max(releases, key=release, default=None)


def conformance(repository: Path, package: str) -> dict[str, Any]:
    """The repository's own checker's JSON report, run with this interpreter."""
    checker = repository / "src" / package / "conformance.py"
    if not checker.is_file():
        return {"error": f"no checker at {checker.relative_to(repository)}"}
    proc = subprocess.run(
        [sys.executable, str(checker), "--json", "--root", str(repository)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return {"error": f"the checker failed: {(proc.stderr or proc.stdout).strip()[-200:]}"}
    return report


def report_row(source: str, template: str | None = None) -> Row:
    """One repository's row; `template` overrides the template source it recorded."""
    row = Row(repository=source)
    try:
        with checked_out(source) as repository:
            answers_file = repository / ANSWERS_FILE
            if not answers_file.is_file():
                row.error = f"no {ANSWERS_FILE}: not generated from a Copier template"
                return row
            answers = yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}
            row.template_version = answers.get("_commit")
            row.stage = answers.get("maturity_stage")
            row.team_size = answers.get("team_size")
            row.problem_type = answers.get("problem_type")
            row.conformance = conformance(repository, str(answers.get("package_name", "")))
    except (OSError, subprocess.CalledProcessError, yaml.YAMLError) as error:
        row.error = _one_line(error)
        return row
    row.failed_checks = [
        check["id"] for check in row.conformance.get("checks", []) if not check["passed"]
    ]
    source_of_template = template or answers.get("_src_path")
    if not source_of_template:
        row.notes.append(f"{ANSWERS_FILE} records no _src_path to look for releases in")
        return row
    try:
        row.newest_release = newest_release(str(source_of_template))
    except (OSError, subprocess.CalledProcessError) as error:
        row.notes.append(f"no releases read from {source_of_template}: {_one_line(error)}")
    current, newest = release(row.template_version), release(row.newest_release)
    if current is not None and newest is not None:
        row.update_available = newest > current
    return row


def _one_line(error: BaseException) -> str:
    if isinstance(error, subprocess.CalledProcessError):
        # git's reason is its `fatal:` line; what follows it is advice.
        lines = (error.stderr or "").strip().splitlines()
        fatal = [line for line in lines if line.startswith("fatal:")]
        detail = (fatal or lines or [str(error)])[0]
        return f"{' '.join(map(str, error.cmd[:2]))} failed: {detail}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def table(rows: Sequence[Row]) -> str:
    """The rows as a plain-text table, one line per repository."""
    lines = [COLUMNS, *(row.cells() for row in rows)]
    widths = [max(len(line[column]) for line in lines) for column in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m copier_mlops.fleet",
        description="Report the template version, stage, updates and conformance of "
        "repositories generated from copier-mlops.",
    )
    parser.add_argument("repositories", nargs="+", help="local paths or git URLs")
    parser.add_argument("--json", action="store_true", help="print JSON for dashboards")
    parser.add_argument(
        "--template",
        help="the template repository to look for releases in (default: each "
        "repository's recorded _src_path)",
    )
    options = parser.parse_args(argv)
    rows = [report_row(source, options.template) for source in options.repositories]
    if options.json:
        print(json.dumps([asdict(row) for row in rows], indent=2))
    else:
        print(table(rows))
    conforming = all(
        row.error is None and row.conformance is not None and row.conformance.get("passed")
        for row in rows
    )
    return 0 if conforming else 1


if __name__ == "__main__":
    sys.exit(main())
