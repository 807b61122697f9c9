"""The Python versions the template offers, and this machine's interpreter for each.

The offered versions are copier.yml's `python_version` choices; the tests install and
check a generated project on every one. `.ci/run` runs this module first: it prints
where each version was found and stops the run, saying what to install, when one is
missing. Under `.ci/run` (REQUIRE_ENV set), the tests fail instead of skipping a
version they cannot find.

Usage: uv run python tests/helpers/python_versions.py
"""

from __future__ import annotations

import sys

from copier_mlops.config import load_copier_config
from copier_mlops.processes import find_python

REQUIRE_ENV = "COPIER_MLOPS_REQUIRE_EVERY_PYTHON"


def offered() -> list[str]:
    """copier.yml's python_version choices: a list, or labels mapped to versions."""
    choices = load_copier_config()["python_version"]["choices"]
    return [str(v) for v in (choices.values() if isinstance(choices, dict) else choices)]


def missing_message(versions: list[str]) -> str:
    listed = ", ".join(versions)
    return (
        f"Python {listed} not found, but copier.yml offers"
        f" {'it' if len(versions) == 1 else 'each'} as a python_version, and the tests"
        " check a generated project on every version offered. Looked for"
        " python3.X on PATH, in pyenv and among uv's managed interpreters. Install it, e.g."
        f" `pyenv install {versions[0]}`, `uv python install {versions[0]}` or your"
        " distribution's package, and run again."
    )


def main() -> int:
    missing = []
    for version in offered():
        found = find_python(version)
        print(f"Python {version}: {found or 'not found'}")
        if found is None:
            missing.append(version)
    if missing:
        print(f"error: {missing_message(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
