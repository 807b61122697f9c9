"""A plain Copier render (no --trust, as a user runs it) works and can be updated later."""

from __future__ import annotations

from pathlib import Path

import copier
import yaml

from copier_mlops.config import load_copier_config
from copier_mlops.processes import GIT_ENV, clean_env, run

DERIVED = [
    key for key, q in load_copier_config().items() if isinstance(q, dict) and q.get("when") is False
]


def _copy(src: Path, dst: Path) -> None:
    copier.run_copy(str(src), dst, defaults=True, unsafe=False, vcs_ref="HEAD", quiet=True)


def test_renders_with_defaults_without_trust(template_snapshot: Path, tmp_path: Path) -> None:
    dst = tmp_path / "project"
    _copy(template_snapshot, dst)
    assert (dst / "pyproject.toml").is_file()
    answers = yaml.safe_load((dst / ".copier-answers.yml").read_text(encoding="utf-8"))
    head = run(["git", "rev-parse", "HEAD"], template_snapshot).stdout.strip()
    assert answers["_src_path"] == str(template_snapshot)
    assert head.startswith(answers["_commit"].rsplit("g", 1)[-1]), "answers must record the commit"
    for question, config in load_copier_config().items():
        if question.startswith("_") or question in DERIVED or not isinstance(config, dict):
            continue
        if "when" not in config:
            assert question in answers, f"{question} missing from the answers file"
    assert not set(DERIVED) & set(answers), "derived values must not be stored as answers"


def test_update_to_the_same_version_changes_nothing(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """The answers file is enough for `copier update`; re-applying the same template
    version over an untouched project leaves it byte for byte as it was."""
    dst = tmp_path / "project"
    _copy(template_snapshot, dst)
    env = {**clean_env(), **GIT_ENV}
    run(["git", "init", "-q", "-b", "main"], dst, env=env)
    run(["git", "add", "-A"], dst, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", "Generate"], dst, env=env)
    copier.run_update(
        dst,
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        skip_answered=True,
        vcs_ref="HEAD",
    )
    assert run(["git", "status", "--porcelain"], dst, env=env).stdout == ""
