"""The questions read completely in an 80-column terminal, most important first.

Copier prints a question's help line by line as written, the first after its "🎤 "
prefix, and prompt_toolkit cuts a line at the terminal's edge instead of wrapping it. A
refused answer's reason shows in one line under the prompt, after Copier's "Validation
error for question '<name>': ". The fast tests measure copier.yml against that; the last
one runs an interactive `copier copy` in an 80-column pseudo-terminal, reads its screen
back through a terminal emulator at every question and checks what a person would see.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import copier
import pexpect
import pyte
import pytest
from jinja2.sandbox import SandboxedEnvironment

from copier_mlops.config import load_copier_config

COLUMNS, ROWS = 80, 24
QMARK = "🎤 "  # two columns wide, then a space
CONFIG = load_copier_config()
DERIVED = {
    name: question["default"]
    for name, question in CONFIG.items()
    if isinstance(question, dict) and question.get("when") is False
}
# Copier renders help with the sandboxed Jinja and Ansible filters it adds.
JINJA = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
# Every question some answers ask, and those a copy with every default answer asks: a
# `when` that names an answer (such as the CI provider's owner question) is rendered with
# the defaults of the other questions, so one asked only when a data file gives it
# (org_policy, whose `when` names itself) is not asked.
ASKED = [
    name
    for name, question in CONFIG.items()
    if isinstance(question, dict) and not name.startswith("_") and question.get("when") is not False
]
DEFAULTS = {name: q.get("default") for name, q in CONFIG.items() if isinstance(q, dict)}
ASKED_BY_DEFAULT = [
    name
    for name in ASKED
    if JINJA.from_string(str(CONFIG[name].get("when", True)))
    .render({other: value for other, value in DEFAULTS.items() if other != name})
    .strip()
    != "False"
]


def _width(text: str) -> int:
    return len(text) + text.count(QMARK.strip())  # the emoji takes two columns


def help_lines(question: str) -> list[str]:
    """The help as Copier shows it: rendered, one screen row per line, the first after
    the question mark."""
    text = JINJA.from_string(CONFIG[question]["help"]).render(DERIVED)
    lines = text.split("\n")
    return [QMARK + lines[0], *lines[1:]]


def _choices(question: str) -> list[str]:
    choices = CONFIG[question].get("choices", [])
    return [str(c) for c in (choices.keys() if isinstance(choices, dict) else choices)]


@pytest.mark.parametrize("question", ASKED)
def test_help_fits_80_columns(question: str) -> None:
    assert CONFIG[question].get("help", "").strip(), f"{question} needs help"
    too_wide = [line for line in help_lines(question) if _width(line) > COLUMNS]
    too_wide += [title for title in _choices(question) if _width(" » " + title) > COLUMNS]
    assert too_wide == [], f"{question}: lines wider than {COLUMNS} columns"


def _reasons(validator: str) -> list[str]:
    """The reasons a validator can give: its text between the Jinja tags."""
    return [part.strip() for part in re.split(r"\{%.*?%\}", validator, flags=re.S) if part.strip()]


@pytest.mark.parametrize("question", [q for q in ASKED if CONFIG[q].get("validator")])
def test_every_reason_fits_one_terminal_line(question: str) -> None:
    reasons = _reasons(CONFIG[question]["validator"])
    assert reasons, f"{question}: no reason found in its validator"
    for reason in reasons:
        assert "{{" not in reason, f"{question}: a reason with a value in it has no fixed width"
        shown = f"Validation error for question '{question}': {reason}"
        assert _width(shown) <= COLUMNS, f"{len(shown)} columns: {shown}"


def test_the_stage_is_asked_early() -> None:
    """The maturity stage decides most of the project: it comes in the first half."""
    assert ASKED.index("maturity_stage") < len(ASKED) / 2, ASKED


@pytest.mark.parametrize("question", ASKED)
def test_defaults_and_conditions_use_earlier_answers(question: str) -> None:
    """A default derived from another answer (package_name from project_name, code_owners
    from github_owner) or a condition on one can only use an answer given before it."""
    config = CONFIG[question]
    text = " ".join(str(config.get(key, "")) for key in ("default", "when"))
    used = {name for name in ASKED if re.search(rf"\b{name}\b", text)} - {question}
    later = sorted(name for name in used if ASKED.index(name) > ASKED.index(question))
    assert later == [], f"{question} uses answers asked after it"


class Terminal:
    """A program in a pseudo-terminal, its output drawn on an emulated screen."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(argv[0], argv[1:], dimensions=(ROWS, COLUMNS), env=env)

    def _read(self, seconds: float) -> bool | None:
        """Draw what arrives within `seconds`: True if something did, False if nothing
        did, None once the program has ended."""
        try:
            self._stream.feed(self.child.read_nonblocking(1 << 16, timeout=seconds))
        except pexpect.TIMEOUT:
            return False
        except pexpect.EOF:
            return None
        return True

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen.display]

    def dump(self) -> str:
        return "\n".join(f"|{row}" for row in self.rows())

    def wait_for(self, seen: Callable[[list[str]], bool], timeout: float = 60) -> None:
        """Until the screen shows `seen`, then until it stops redrawing for a moment
        (questionary draws a prompt in several writes)."""
        deadline = time.monotonic() + timeout
        while not seen(self.rows()):
            if time.monotonic() > deadline or self._read(0.1) is None:
                raise AssertionError(f"timed out; the screen shows:\n{self.dump()}")
        while self._read(0.3) and time.monotonic() < deadline:
            pass

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def finish(self, timeout: float = 120) -> int | None:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + timeout
        while self._read(0.5) is not None:
            assert time.monotonic() < deadline, f"the program did not end:\n{self.dump()}"
        self.child.close()
        return self.child.exitstatus


def _shown_whole(rows: list[str], lines: list[str]) -> bool:
    """`lines` appear on consecutive rows, each row exactly one line."""
    return any(rows[i : i + len(lines)] == lines for i in range(len(rows)))


def _refusal(template: Path, dst: Path, **answers: Any) -> str:
    with pytest.raises(ValueError, match="Validation error") as excinfo:
        copier.run_copy(
            str(template),
            dst,
            data=answers,
            defaults=True,
            unsafe=False,
            vcs_ref="HEAD",
            quiet=True,
        )
    return str(excinfo.value)


def test_an_interactive_copy_reads_completely_at_80_columns(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """Answer every question of a real `copier copy` in an 80x24 terminal: at each one,
    its whole help is on screen, line for line; a refused answer's whole reason shows; the
    stage is asked before the last question; and the project is generated."""
    bad_name = "My model!"
    reason = _refusal(template_snapshot, tmp_path / "refused", project_name=bad_name)
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        # pyte does not answer prompt_toolkit's cursor-position requests; without this,
        # every prompt would wait for the answer and then print a warning.
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }
    dst = tmp_path / "project"
    argv = [sys.executable, "-m", "copier", "copy", "--vcs-ref", "HEAD"]
    terminal = Terminal([*argv, str(template_snapshot), str(dst)], env)
    seen, cut = [], {}
    try:
        for question in ASKED_BY_DEFAULT:
            lines = help_lines(question)
            start = lines[0][:40]
            terminal.wait_for(lambda rows, start=start: any(r.startswith(start) for r in rows))
            seen.append(question)
            if not _shown_whole(terminal.rows(), lines):
                cut[question] = terminal.dump()
            if question == "project_name":
                terminal.send("\x15" + bad_name + "\r")  # Ctrl-U clears the default first
                terminal.wait_for(lambda rows: any(r.startswith("Validation error") for r in rows))
                shown = [r for r in terminal.rows() if r.startswith("Validation error")]
                assert shown == [reason], f"the reason is not shown whole:\n{terminal.dump()}"
                terminal.send("\x15" + str(CONFIG[question]["default"]))
            terminal.send("\r")  # the default, or the default choice
        status = terminal.finish()
    finally:
        terminal.child.close(force=True)
    assert cut == {}, "help cut or wrapped:\n" + "\n\n".join(f"{q}:\n{s}" for q, s in cut.items())
    assert seen == ASKED_BY_DEFAULT
    assert seen.index("maturity_stage") < len(seen) - 1
    assert status == 0, terminal.dump()
    assert (dst / "pyproject.toml").is_file()
