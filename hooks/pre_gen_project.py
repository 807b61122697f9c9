"""The cookiecutter export's pre-generation hook: refuse the answers copier.yml refuses.

copier_mlops/cookiecutter_export.py copies this module into the exported template and
appends the call to `main`, with each question's validator from copier.yml rendered by
cookiecutter (the same Jinja expressions Copier renders). It runs with the user's Python
before any file is written, so it uses the standard library only.
"""

from __future__ import annotations

import sys


def main(reasons: list[list[str]]) -> int:
    """Report the first question whose validator gave a reason, as Copier words it, and
    fail; succeed when every validator gave none. `reasons` pairs each question asked
    with what its validator rendered, in copier.yml's order."""
    for question, reason in reasons:
        if reason.strip():
            print(f"Validation error for question '{question}': {reason.strip()}", file=sys.stderr)
            return 1
    return 0
