"""Every render in this repository's own code names the template version it renders.

Without a ref, Copier renders the newest release tag, not the working tree: once a
release exists, a test, the docs' generator or a benchmark would silently check a stale
template. So every Copier call in the repository's Python (tests, docs, benchmarks,
scripts; not the template) passes `vcs_ref`, and every Copier command line `--vcs-ref`.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

from copier_mlops import ROOT

API_CALLS = {"run_copy", "run_update", "run_recopy"}
COMMANDS = {"copy", "update", "recopy"}


def _python_files() -> list[Path]:
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return [ROOT / p for p in listing if not p.startswith("template/") and (ROOT / p).is_file()]


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _text(node: ast.expr) -> str | None:
    """A string literal's text (an f-string's literal parts), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) or " " for v in node.values)
    return None


def _unpinned(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            keywords = {k.arg for k in node.keywords}
            owner = _name(func.value) if isinstance(func, ast.Attribute) else ""
            is_api = _name(func) in API_CALLS
            is_plugin = _name(func) in COMMANDS and "copie" in owner.lower()
            if (is_api or is_plugin) and "vcs_ref" not in keywords:
                found.append((node.lineno, f"{owner}.{_name(func)}(...) without vcs_ref"))
            for arg in node.args:
                text = _text(arg)
                # In one string, a command line has arguments; "copier copy" is a label.
                if text and _is_command(text.split(), needs_arguments=True):
                    found.append((node.lineno, f"command {text!r} without --vcs-ref"))
        elif isinstance(node, ast.List | ast.Tuple):
            words = [t for t in map(_text, node.elts) if t is not None]
            if _is_command(words):
                found.append((node.lineno, f"command {words} without --vcs-ref"))
    return found


def _is_command(words: list[str], needs_arguments: bool = False) -> bool:
    """A Copier command line that renders and names no ref."""
    for i, word in enumerate(words[:-1]):
        if word.endswith("copier") and words[i + 1] in COMMANDS:
            if needs_arguments and len(words) == i + 2:
                return False
            return not any(w in {"--vcs-ref", "-r"} or w.startswith("--vcs-ref=") for w in words)
    return False


def test_the_audit_finds_an_unpinned_render() -> None:
    source = """
copier.run_copy(src, dst, defaults=True)
copie.copy(extra_answers={})
run(["uvx", "copier", "copy", src, dst])
pexpect.spawn(f"copier update --defaults {dst}")
copier.run_update(dst, vcs_ref="HEAD")
run(["copier", "copy", "--vcs-ref", "HEAD", src, dst])
lap("copier copy")
"""
    assert sorted(line for line, _ in _unpinned(ast.parse(source))) == [2, 3, 4, 5]


def test_every_render_names_its_ref() -> None:
    files = _python_files()
    assert any(p.name == "stage_matrix.py" for p in files), "the audit missed docs/"
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in files
        for line, what in _unpinned(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not problems, "\n".join(problems)
