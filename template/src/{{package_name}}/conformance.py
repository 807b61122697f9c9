"""Check the repository against its conformance statement, conformance.toml.

The template writes the statement: what the project's stage, team size and choices
require of it (files, CI jobs, pinned actions, a non-root image, the evaluation gate,
the organisation's policy), each check with an id, a one-line reason and what to do when
it fails. CONFORMANCE.md explains each check under a heading named by its id.

This module needs nothing but Python's standard library, so it runs without the
project's environment, from the project's root, with any Python 3.11 or later::

    python src/<package>/conformance.py          # a line per check (make conformance)
    python src/<package>/conformance.py --json   # the same for machines

It exits with 1 when a check fails. YAML files (the CI workflows, the answers file) are
read line by line for the little they are checked for: the jobs a workflow defines,
the actions it uses, the answers Copier recorded as `key: value` lines.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATEMENT = "conformance.toml"

Check = Mapping[str, Any]


@dataclass(frozen=True)
class Result:
    """One check's outcome: what failed, each problem with what to do about it."""

    id: str
    component: str
    kind: str
    reason: str
    docs: str
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "component": self.component,
            "kind": self.kind,
            "reason": self.reason,
            "docs": self.docs,
            "passed": self.passed,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class Report:
    """The statement's facts about the project, and every check's result."""

    facts: dict[str, str]
    results: tuple[Result, ...]

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.facts,
            "passed": self.passed,
            "checks": [result.as_dict() for result in self.results],
        }


# Files ------------------------------------------------------------------------------


def _files(root: Path, patterns: list[str]) -> list[Path]:
    return sorted({path for pattern in patterns for path in root.glob(pattern) if path.is_file()})


def check_file(root: Path, check: Check) -> list[str]:
    if (root / check["path"]).is_file():
        return []
    return [f"{check['path']} is missing: {check['fix']}"]


# Settings and the evaluation gate ----------------------------------------------------

_UNREADABLE = object()


def setting_defaults(config: Path) -> dict[str, object]:
    """The fields of config.py's Settings class, each with its default as a Python value
    (a default that is not a literal reads as unreadable)."""
    tree = ast.parse(config.read_text(encoding="utf-8"))
    defaults: dict[str, object] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ClassDef) and node.name == "Settings"):
            continue
        for statement in node.body:
            if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
                defaults[statement.target.id] = _default(statement.value)
    return defaults


def _default(value: ast.expr | None) -> object:
    if isinstance(value, ast.Call):
        keywords = {keyword.arg: keyword.value for keyword in value.keywords}
        value = keywords.get("default", value.args[0] if value.args else None)
    if value is None:
        return _UNREADABLE
    try:
        return ast.literal_eval(value)
    except ValueError:
        return _UNREADABLE


def check_settings(root: Path, check: Check) -> list[str]:
    config = root / check["path"]
    if not config.is_file():
        return [f"{check['path']} is missing: {check['fix']}"]
    declared = setting_defaults(config)
    return [
        f"{check['path']} declares no setting {name}: {check['fix']}"
        for name in check["settings"]
        if name not in declared
    ]


def dotenv(path: Path) -> dict[str, str]:
    """The `NAME=value` lines of a .env file, quotes taken off."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8").splitlines():
        name, equals, value = line.strip().removeprefix("export ").partition("=")
        if equals and name and not name.startswith("#"):
            values[name.strip()] = value.strip().strip("'\"")
    return values


_BOUNDS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "gt": ("greater than", lambda value, bound: value > bound),
    "ge": ("at least", lambda value, bound: value >= bound),
    "lt": ("less than", lambda value, bound: value < bound),
    "le": ("at most", lambda value, bound: value <= bound),
}


def _number(value: object) -> float | None:
    """A number, from a literal or an environment variable's text; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def check_gate(root: Path, check: Check) -> list[str]:
    """Each threshold of the gate, as the settings read it (the environment, then .env,
    then config.py's default), must be one that stops a model no better than the
    baseline."""
    config = root / check["path"]
    if not config.is_file():
        return [f"{check['path']} is missing, and with it the gate's thresholds: {check['fix']}"]
    defaults = setting_defaults(config)
    env_file = dotenv(root / check["env_file"])
    problems = []
    for threshold in check["thresholds"]:
        setting = threshold["setting"]
        variable = f"{check['env_prefix']}{setting}".upper()
        raw: object
        if os.environ.get(variable):
            raw, where = os.environ[variable], f"the environment's {variable}"
        elif env_file.get(variable):
            raw, where = env_file[variable], f"{check['env_file']}'s {variable}"
        elif setting in defaults:
            raw, where = defaults[setting], f"the default in {check['path']}"
        else:
            problems.append(f"{check['path']} declares no {setting}: {check['fix']}")
            continue
        value = _number(raw)
        if value is None:
            problems.append(f"{setting} is not a number ({where}): {check['fix']}")
            continue
        for bound, (words, holds) in _BOUNDS.items():
            if bound in threshold and not holds(value, threshold[bound]):
                problems.append(
                    f"{setting} is {value:g} ({where}), which lets a model the gate should "
                    f"stop through; it must be {words} {threshold[bound]:g}: {check['fix']}"
                )
    return problems


# CI ---------------------------------------------------------------------------------

_KEY = re.compile(r"""(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+|"[^"]+"|'[^']+')\s*:(?:\s|$)""")


def yaml_keys(text: str, under: str) -> set[str]:
    """The keys of the block mapping at the top-level key `under`, or of the top level
    when `under` is empty, in a YAML file written in block style."""
    keys: set[str] = set()
    inside = not under
    indent: int | None = 0 if not under else None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _KEY.match(line)
        if under and not line.startswith(" "):
            inside = match is not None and match["key"].strip("'\"") == under
            continue
        if not inside or match is None:
            continue
        if indent is None:
            indent = len(match["indent"])
        if len(match["indent"]) == indent:
            keys.add(match["key"].strip("'\""))
    return keys


def check_ci_jobs(root: Path, check: Check) -> list[str]:
    files = _files(root, check["files"])
    defined = {
        job for path in files for job in yaml_keys(path.read_text(encoding="utf-8"), check["under"])
    }
    where = ", ".join(check["files"])
    return [
        f"no CI job {job} in {where}: {check['fix']}" for job in check["jobs"] if job not in defined
    ]


def check_pinned(root: Path, check: Check) -> list[str]:
    reference, pinned = re.compile(check["reference"]), re.compile(check["pinned"])
    problems = []
    for path in _files(root, check["files"]):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            match = reference.search(line)
            if match and not pinned.fullmatch(match[1]):
                where = f"{path.relative_to(root).as_posix()}:{number}"
                problems.append(f"{where}: {match[1]} is not pinned: {check['fix']}")
    return problems


# The container ----------------------------------------------------------------------


def dockerfile_instructions(text: str) -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        instruction, _, arguments = (pending + line).strip().partition(" ")
        pending = ""
        yield instruction.upper(), arguments.strip()


def final_user(text: str) -> str | None:
    """The user the final stage runs as: its last USER, or None when it sets none."""
    user = None
    for instruction, arguments in dockerfile_instructions(text):
        if instruction == "FROM":
            user = None
        elif instruction == "USER":
            user = arguments.split(":")[0]
    return user


def check_non_root(root: Path, check: Check) -> list[str]:
    dockerfile = root / check["path"]
    if not dockerfile.is_file():
        return [f"{check['path']} is missing, so no image can be built from it"]
    user = final_user(dockerfile.read_text(encoding="utf-8"))
    if user is None:
        return [f"{check['path']}'s final stage sets no USER, so it runs as root: {check['fix']}"]
    if user in {"root", "0"}:
        return [f"{check['path']}'s final stage runs as {user}: {check['fix']}"]
    return []


# The organisation's policy ----------------------------------------------------------


def recorded_answers(text: str) -> dict[str, str]:
    """The top-level scalar answers of Copier's answers file (`key: value` lines)."""
    answers: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if not colon or line.startswith((" ", "#", "-")) or not key.isidentifier():
            continue
        value = value.strip()
        if value.startswith("'"):
            value = value[1:-1].replace("''", "'")
        elif value.startswith('"'):
            value = json.loads(value)
        answers[key] = value
    return answers


def check_policy(root: Path, check: Check) -> list[str]:
    answers_file = root / check["path"]
    if not answers_file.is_file():
        return [f"{check['path']} is missing: restore it from git history"]
    answers = recorded_answers(answers_file.read_text(encoding="utf-8"))
    problems = []
    for rule in check["rules"]:
        question, allowed = rule["question"], rule["allowed"]
        answer = answers.get(question)
        if answer in allowed:
            continue
        why = f"{rule['rule']}: {rule['reason']}" if rule["reason"] else rule["rule"]
        fix = check["fix"].replace("<question>", question)
        fix = fix.replace("<an allowed answer>", allowed[0])
        problems.append(
            f"{check['path']} records {question}: {answer}, which the organisation's policy "
            f"forbids ({why}); {fix}"
        )
    return problems


# The statement ----------------------------------------------------------------------

KINDS: dict[str, Callable[[Path, Check], list[str]]] = {
    "file": check_file,
    "settings": check_settings,
    "gate": check_gate,
    "ci_jobs": check_ci_jobs,
    "pinned": check_pinned,
    "non_root": check_non_root,
    "policy": check_policy,
}


def run_check(root: Path, check: Check, docs: str) -> Result:
    kind = KINDS.get(check["kind"])
    problems = (
        kind(root, check)
        if kind is not None
        else [f"this checker does not know the kind {check['kind']!r}: run copier update"]
    )
    return Result(
        id=check["id"],
        component=check["component"],
        kind=check["kind"],
        reason=check["reason"],
        docs=f"{docs}#{check['id']}",
        problems=tuple(problems),
    )


def check_repository(root: Path) -> Report:
    """Every check of the statement at `root`; a missing statement is one failed check."""
    try:
        statement = tomllib.loads((root / STATEMENT).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        problem = (
            f"{STATEMENT} is missing or unreadable ({error}): restore it from git history, "
            "or regenerate it with `copier recopy` and keep that file"
        )
        missing = Result(
            id="conformance-statement",
            component="conformance",
            kind="file",
            reason="the project's standard is written down where people and tools can read it",
            docs="CONFORMANCE.md#conformance-statement",
            problems=(problem,),
        )
        return Report(facts={"statement": STATEMENT}, results=(missing,))
    facts = {key: value for key, value in statement.items() if isinstance(value, str)}
    results = tuple(run_check(root, check, statement["docs"]) for check in statement["checks"])
    return Report(facts={"statement": STATEMENT, **facts}, results=results)


def describe(report: Report) -> str:
    """The report as lines for a terminal: each check, and what to do for each failure."""
    facts = report.facts
    lines = [
        f"Conformance of {facts.get('project', 'this project')}: {facts.get('stage', '?')} stage, "
        f"{facts.get('team_size', '?')} team, template {facts.get('template_version', '?')}"
    ]
    width = max(len(result.id) for result in report.results)
    for result in report.results:
        status = "pass" if result.passed else "FAIL"
        lines.append(f"  {status}  {result.id:<{width}}  {result.reason}")
        for problem in result.problems:
            lines.append(f"        {problem}")
        if not result.passed:
            lines.append(f"        See {result.docs}")
    failed = sum(not result.passed for result in report.results)
    total = len(report.results)
    lines.append(
        f"{total - failed} of {total} checks pass"
        + (f"; {failed} failed." if failed else ": the project conforms.")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the repository against conformance.toml.")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--root", type=Path, default=Path(), help="the project's root (default: here)"
    )
    options = parser.parse_args(argv)
    report = check_repository(options.root)
    print(json.dumps(report.as_dict(), indent=2) if options.json else describe(report))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
