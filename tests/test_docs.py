"""The docs' stage matrix is generated from components.yml and must be current."""

from __future__ import annotations

import sys

from generated_project import ROOT, run


def test_stage_matrix_page_is_current() -> None:
    proc = run([sys.executable, "docs/stage_matrix.py", "--check"], ROOT, check=False)
    assert proc.returncode == 0, proc.stderr + "\nrun: uv run python docs/stage_matrix.py"
