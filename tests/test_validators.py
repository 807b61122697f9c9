"""Validators refuse bad answers with a one-line reason; hostile but valid answers give a
valid project."""

from __future__ import annotations

import json
import py_compile
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import copier
import pytest
import yaml
from generated_project import STAGES, TEAM_SIZES, GeneratedProject, run

BAD_ANSWERS = [
    # (question, answer, words the reason must contain)
    ("project_name", "", "start with an ASCII letter"),
    ("project_name", "1st Model", "start with an ASCII letter"),
    ("project_name", "Ümlaut Model", "start with an ASCII letter"),
    ("project_name", "My model!", "letters, digits"),
    ("project_name", "{{ 7 * 7 }}", "start with an ASCII letter"),
    ("project_name", "My {% raw %} Model", "letters, digits"),
    ("project_name", "Two\nLines", "letters, digits"),
    ("project_name", "../escape", "start with an ASCII letter"),
    ("project_name", "Model-", "end with a letter or digit"),
    ("project_name", "M" * 65, "at most 64"),
    ("package_name", "class", "keyword"),
    ("package_name", "None", "lowercase"),
    ("package_name", "async", "keyword"),
    ("package_name", "json", "standard-library"),
    ("package_name", "os", "standard-library"),
    ("package_name", "logging", "standard-library"),
    ("package_name", "mlflow", "shadow"),
    ("package_name", "sklearn", "shadow"),
    ("package_name", "fastapi", "shadow"),
    ("package_name", "test", "shadow"),
    ("package_name", "My_Model", "lowercase"),
    ("package_name", "my-model", "lowercase"),
    ("package_name", "my model", "lowercase"),
    ("package_name", "1model", "start with a lowercase letter"),
    ("package_name", "_private", "start with a lowercase letter"),
    ("package_name", "model_", "end with an underscore"),
    ("package_name", "café", "lowercase"),
    ("package_name", "m" * 51, "at most 50"),
    ("author_email", "", "e-mail address"),
    ("author_email", "plainaddress", "e-mail address"),
    ("author_email", "@example.com", "e-mail address"),
    ("author_email", "user@", "e-mail address"),
    ("author_email", "user@localhost", "e-mail address"),
    ("author_email", "user@exa mple.com", "e-mail address"),
    ("author_email", "user@@example.com", "e-mail address"),
    ("author_email", "first..last@example.com", "e-mail address"),
    ("author_email", "name@example.c", "e-mail address"),
    ("author_email", "{{x}}@example.com", "e-mail address"),
    ("author_email", "<a@example.com>", "e-mail address"),
    ("github_owner", "", "GitHub user or organisation"),
    ("github_owner", "-org", "GitHub user or organisation"),
    ("github_owner", "org-", "GitHub user or organisation"),
    ("github_owner", "my--org", "GitHub user or organisation"),
    ("github_owner", "my_org", "GitHub user or organisation"),
    ("github_owner", "my org", "GitHub user or organisation"),
    ("github_owner", "o" * 40, "GitHub user or organisation"),
    ("description", "", "must not be empty"),
    ("description", "   ", "must not be empty"),
    ("description", 'Says "hello"', "double quotes"),
    ("description", "back\\slash", "backslashes"),
    ("description", "two\nlines", "one line"),
    ("description", "Uses {{ jinja }}", "Jinja"),
    ("description", "d" * 201, "at most 200"),
    ("author_name", "", "must not be empty"),
    ("author_name", 'Ada "The Countess" Lovelace', "plain name"),
    ("author_name", "Ada <ada@example.com>", "plain name"),
    ("author_name", "back\\slash", "plain name"),
    ("author_name", "{% if %}", "plain name"),
    ("author_name", "a" * 101, "at most 100"),
]

BAD_CODE_OWNERS = [
    "alice",
    "@alice,@bob",
    "@",
    "@alice @",
    "@my-org/ml team",
    "",
    "@alice\n@bob",
    "@{{ x }}",
]


@pytest.mark.parametrize(("question", "answer", "reason"), BAD_ANSWERS)
def test_bad_answer_is_refused_with_a_reason(
    template_snapshot: Path, tmp_path: Path, question: str, answer: str, reason: str
) -> None:
    with pytest.raises(ValueError, match="Validation error") as excinfo:
        copier.run_copy(
            str(template_snapshot),
            tmp_path / "project",
            data={question: answer},
            defaults=True,
            unsafe=False,
            quiet=True,
            vcs_ref="HEAD",
        )
    message = str(excinfo.value)
    assert f"question '{question}'" in message
    assert reason in message
    assert "\n" not in message.strip(), "the reason should be one line"
    assert not (tmp_path / "project").exists() or not any((tmp_path / "project").iterdir())


@pytest.mark.parametrize("answer", BAD_CODE_OWNERS)
def test_bad_code_owners_are_refused(template_snapshot: Path, tmp_path: Path, answer: str) -> None:
    with pytest.raises(ValueError, match="Validation error") as excinfo:
        copier.run_copy(
            str(template_snapshot),
            tmp_path / "project",
            data={"team_size": TEAM_SIZES[-1], "code_owners": answer},
            defaults=True,
            unsafe=False,
            quiet=True,
            vcs_ref="HEAD",
        )
    assert "question 'code_owners'" in str(excinfo.value)
    assert "GitHub handles or teams" in str(excinfo.value)


# The longest answers the validators accept.
LIMITS = {"project_name": 64, "package_name": 50, "author_name": 100, "description": 200}

HOSTILE = [
    pytest.param(
        {
            "project_name": "A.b-c_d 2",
            "author_name": "Zoë O'Brien-Łukasiewicz (ML team) & Co. #1; $HOME `id`",
            "author_email": "first.last+ml@sub.example.co.uk",
            "description": (
                "It's a 'quoted' model: naïve? No — {braces}, <tags>, 100% & $HOME `id` # note"
            ),
            "code_owners": "@alice @my-org/ml.team_1",
        },
        id="punctuation-and-unicode",
    ),
    pytest.param(
        {
            "project_name": "X",
            "author_name": "李小龙",
            "author_email": "a!#$%&*+/=?^_`{|}~-z@example.org",
            "description": "模型 🚀 for ÿ ümlauts: yes/no?",
            "github_owner": "a",
        },
        id="shortest-and-cjk",
    ),
    pytest.param(
        {
            "project_name": "Long" + " name" * 12,
            "package_name": "l" * 50,
            "author_name": "N" * 100,
            "author_email": ("e" * 60) + "@" + ("d" * 60) + ".example.com",
            "description": "D" * 200,
            "github_owner": "o" * 39,
        },
        id="longest",
    ),
]


@pytest.mark.parametrize("answers", HOSTILE)
@pytest.mark.parametrize("stage", STAGES)
def test_hostile_but_valid_answers_make_a_valid_project(
    render: Callable[..., GeneratedProject], answers: dict[str, str], stage: str
) -> None:
    assert all(len(answers[q]) <= limit for q, limit in LIMITS.items() if q in answers)
    project = render(maturity_stage=stage, team_size=TEAM_SIZES[-1], **answers)
    pyproject = project.pyproject  # parses
    assert pyproject["project"]["description"] == answers["description"]
    assert pyproject["project"]["authors"] == [
        {"name": answers["author_name"], "email": answers["author_email"]}
    ]
    recorded = yaml.safe_load((project.path / ".copier-answers.yml").read_text(encoding="utf-8"))
    for question, answer in answers.items():
        assert recorded[question] == answer, f"{question} does not round-trip the answers file"

    for rel in sorted(project.files()):
        path = project.path / rel
        if rel.endswith(".py"):
            py_compile.compile(str(path), cfile=str(path) + "c.tmp", doraise=True)
            Path(str(path) + "c.tmp").unlink()
        elif rel.endswith((".yml", ".yaml")):
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif rel.endswith(".toml"):
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif rel.endswith(".json"):
            json.loads(path.read_text(encoding="utf-8"))

    # As generated, the code also passes the project's own formatter and linter settings.
    for ruff in (["format", "--check"], ["check"]):
        run([sys.executable, "-m", "ruff", *ruff, "--no-cache", "."], project.path)
