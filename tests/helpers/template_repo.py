"""A clone of the template as its users have one, and the commands the docs give them.

Tests of the documented workflows clone the working-tree snapshot (conftest's
`template_snapshot`), tag and commit in the clone as a release or a later change would,
and run the commands the docs show, read from the docs themselves.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from copier_mlops.processes import GIT_ENV, clean_env, run, uv_executable

_HEADING = re.compile(r"(#+) +(.*?) *$")
_FENCE = "```"


def git_env() -> dict[str, str]:
    return {**clean_env(), **GIT_ENV}


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], repo, env=git_env()).stdout


def clone(source: Path, dest: Path) -> Path:
    """A clone of `source` at `dest`, as `git clone` makes it for a user."""
    run(["git", "clone", "-q", str(source), str(dest)], dest.parent, env=git_env())
    return dest


def commit_all(repo: Path, message: str) -> None:
    """Commit everything; a step that changed nothing still leaves its commit."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-m", message)


def append_and_commit(repo: Path, path: str, line: str) -> None:
    """A change to `path`, committed: the line appended, the line as the message."""
    file = repo / path
    file.write_text(file.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    commit_all(repo, line)


def tag_release(repo: Path, tag: str) -> None:
    """An annotated tag on HEAD, as a release is tagged."""
    git(repo, "tag", "-a", tag, "-m", f"Release {tag}")


def bash_commands(doc: Path, heading: str) -> list[str]:
    """The commands in the `bash` code blocks of the section `heading` of a Markdown file.

    The section runs to the next heading of the same or a higher level. Continuation
    lines are joined; whole-line comments and blank lines are left out.
    """
    lines = doc.read_text(encoding="utf-8").splitlines()
    level: int | None = None
    in_block = block_is_bash = False
    commands: list[str] = []
    pending = ""
    for line in lines:
        if line.startswith(_FENCE):
            in_block = not in_block
            block_is_bash = in_block and line[len(_FENCE) :].strip() in {"bash", "sh", "shell"}
            continue
        if not in_block and (match := _HEADING.fullmatch(line)):
            depth = len(match.group(1))
            if level is not None and depth <= level:
                break
            if match.group(2) == heading:
                level = depth
            continue
        if level is None or not (in_block and block_is_bash):
            continue
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1].rstrip() + " "
            continue
        commands.append(pending + stripped)
        pending = ""
    if level is None:
        raise AssertionError(f"{doc.name} has no section {heading!r}")
    return commands


def only_command(doc: Path, heading: str, containing: str) -> str:
    """The one command of a section that contains `containing`."""
    found = [c for c in bash_commands(doc, heading) if containing in c]
    assert len(found) == 1, f"{doc.name}, {heading!r}: expected one `{containing}`: {found}"
    return found[0]


def run_documented(command: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a documented command with bash, as a user types it.

    `uvx` is the one beside the uv running these tests: on PATH first, a version
    manager's shim could pick another Python, and another uv, inside a project that has
    its own .python-version.
    """
    env = git_env()
    env["PATH"] = os.pathsep.join([str(Path(uv_executable()).parent), env["PATH"]])
    return run(["bash", "-c", command], cwd, env=env, check=check)
