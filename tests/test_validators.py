"""Validators refuse bad answers with a one-line reason that names the real problem;
hostile but valid answers give a valid project."""

from __future__ import annotations

import json
import py_compile
import re
import sys
import tomllib
import unicodedata
from collections.abc import Callable
from pathlib import Path

import copier
import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment

from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.ladder import STAGES, TEAM_SIZES
from copier_mlops.processes import run

from helpers.generated_project import GeneratedProject

CONFIG = load_copier_config()

# Every question answered by typing free text, read from copier.yml, so that a new one is
# covered as soon as it is added.
FREE_TEXT = [
    name
    for name, question in CONFIG.items()
    if isinstance(question, dict)
    and not name.startswith("_")
    and question.get("type") == "str"
    and "choices" not in question
    and question.get("when") is not False
]
DEFAULTS = {name: q.get("default") for name, q in CONFIG.items() if isinstance(q, dict)}


def asked_with(question: str) -> dict[str, str]:
    """Answers under which `question` is asked: none, or the first choice of a question
    with choices that makes its `when` hold (the CI provider for its owner question)."""
    when = SandboxedEnvironment().from_string(str(CONFIG[question].get("when", True)))
    candidates: list[dict[str, str]] = [{}]
    for name, other in CONFIG.items():
        if isinstance(other, dict) and "choices" in other:
            candidates += [{name: value} for value in choice_values(other)]
    for answers in candidates:
        if when.render({**DEFAULTS, **answers}).strip() == "True":
            return answers
    raise AssertionError(f"{question} is asked for no answer")


# The classes of characters no free-text answer may hold, from Unicode's own definitions
# rather than from copier.yml: what str.splitlines() breaks on, and the control characters
# (category Cc) and bidirectional embeddings, overrides and isolates that are not breaks.
_BIDI_CONTROLS = {"LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
LINE_BREAKS = [chr(i) for i in range(0x10000) if len(f"a{chr(i)}b".splitlines()) > 1]
LINE_BREAKS.append("\r\n")
CONTROLS = [
    chr(i)
    for i in range(0x10000)
    if chr(i) not in LINE_BREAKS
    and (
        unicodedata.category(chr(i)) == "Cc" or unicodedata.bidirectional(chr(i)) in _BIDI_CONTROLS
    )
]
CHARACTER_CLASSES = {
    "line break": (LINE_BREAKS, "must not contain a line break"),
    "control character": (CONTROLS, "must not have control characters"),
}


def _copy(template: Path, dst: Path, **answers: str) -> None:
    copier.run_copy(
        str(template), dst, data=answers, defaults=True, unsafe=False, quiet=True, vcs_ref="HEAD"
    )


def _refusal(template: Path, dst: Path, **answers: str) -> str:
    """Copier's error for the answers; the project must not have been written."""
    with pytest.raises(ValueError, match="Validation error") as excinfo:
        _copy(template, dst, **answers)
    assert not dst.exists() or not any(dst.iterdir())
    message = str(excinfo.value)
    assert "\n" not in message.strip(), "the reason should be one line"
    return message


@pytest.fixture(scope="module")
def reason_for() -> Callable[[str, str], str]:
    """A question's validator from copier.yml, rendered as Copier renders it (a sandboxed
    Jinja with the Ansible filters Copier adds), to check thousands of answers without a
    render each: its reason for an answer, "" when it accepts it. The tests through Copier
    itself below show that it refuses the same way."""
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    derived = {
        name: question["default"]
        for name, question in CONFIG.items()
        if isinstance(question, dict)
        and question.get("when") is False
        and isinstance(question.get("default"), dict)
    }
    validators = {
        name: env.from_string(question["validator"])
        for name, question in CONFIG.items()
        if isinstance(question, dict) and "validator" in question
    }

    def _reason(question: str, answer: str) -> str:
        return validators[question].render({**derived, question: answer}).strip()

    return _reason


def test_free_text_questions_are_found() -> None:
    """The list the tests below walk is read from copier.yml; each entry is validated."""
    assert {"project_name", "package_name", "description", "author_email"} <= set(FREE_TEXT)
    assert [q for q in FREE_TEXT if not CONFIG[q].get("validator")] == []


@pytest.mark.parametrize("character_class", list(CHARACTER_CLASSES))
@pytest.mark.parametrize("question", FREE_TEXT)
def test_no_answer_holds_a_line_break_or_control_character(
    reason_for: Callable[[str, str], str],
    maximal_project: GeneratedProject,
    question: str,
    character_class: str,
) -> None:
    """Every character of the class, before, inside and after a valid answer, is refused
    by the question it was typed into, for what it is (a trailing newline passed `$`)."""
    characters, expected = CHARACTER_CLASSES[character_class]
    valid = str(maximal_project.answers.get(question, DEFAULTS[question]))
    assert reason_for(question, valid) == "", f"{question}: its default must be valid"
    wrong = {}
    for char in characters:
        for answer in (valid + char, char + valid, valid[:1] + char + valid[1:]):
            if (reason := reason_for(question, answer)) != expected:
                wrong[answer] = reason
    assert wrong == {}, f"{question}: {len(wrong)} answers not refused with {expected!r}"


@pytest.mark.parametrize("question", FREE_TEXT)
def test_copier_refuses_a_stray_character_for_the_right_question(
    template_snapshot: Path,
    tmp_path: Path,
    maximal_project: GeneratedProject,
    question: str,
) -> None:
    """Through Copier itself: a trailing newline, a leading tab and a trailing line
    separator are refused by the question they were given to, with their own reason."""
    valid = str(maximal_project.answers.get(question, DEFAULTS[question]))
    cases = {
        valid + "\n": "line break",
        "\t" + valid: "control characters",
        valid + "\u2028": "line break",
    }
    for number, (answer, reason) in enumerate(cases.items()):
        answers = {"team_size": TEAM_SIZES[-1], **asked_with(question), question: answer}
        message = _refusal(template_snapshot, tmp_path / str(number), **answers)
        assert message.startswith(f"Validation error for question '{question}': "), message
        assert reason in message, f"{answer!r}: {message}"


BAD_ANSWERS = [
    # (question, answer, words the reason must contain)
    ("project_name", "", "start with an ASCII letter"),
    ("project_name", "1st Model", "start with an ASCII letter"),
    ("project_name", "Ümlaut Model", "start with an ASCII letter"),
    ("project_name", "My model!", "letters, digits"),
    ("project_name", "{{ 7 * 7 }}", "start with an ASCII letter"),
    ("project_name", "My {% raw %} Model", "letters, digits"),
    ("project_name", "Two\nLines", "line break"),
    ("project_name", "../escape", "start with an ASCII letter"),
    ("project_name", "Model-", "end with a letter or digit"),
    ("project_name", "M" * 65, "at most 64"),
    ("package_name", "class", "keyword"),
    ("package_name", "async", "keyword"),
    ("package_name", "None", "start with a lowercase letter"),
    ("package_name", "json", "standard-library"),
    ("package_name", "os", "standard-library"),
    ("package_name", "logging", "standard-library"),
    ("package_name", "test", "standard-library"),
    ("package_name", "mlflow", "module of a dependency"),
    ("package_name", "sklearn", "module of a dependency"),
    ("package_name", "fastapi", "module of a dependency"),
    ("package_name", "yaml", "module of a dependency"),
    ("package_name", "typing_extensions", "module of a dependency"),
    ("package_name", "conftest", "project's layout"),
    ("package_name", "tests", "project's layout"),
    ("package_name", "test_task", "project's layout"),
    ("package_name", "src", "project's layout"),
    ("package_name", "My_Model", "start with a lowercase letter"),
    ("package_name", "my-model", "only a-z, 0-9 and _"),
    ("package_name", "my model", "only a-z, 0-9 and _"),
    ("package_name", "1model", "start with a lowercase letter"),
    ("package_name", "_private", "start with a lowercase letter"),
    ("package_name", "model_", "end with an underscore"),
    ("package_name", "café", "only a-z, 0-9 and _"),
    ("package_name", "m" * 51, "at most 50"),
    ("author_email", "", "like name@example.com"),
    ("author_email", "plainaddress", "like name@example.com"),
    ("author_email", "@example.com", "like name@example.com"),
    ("author_email", "user@", "like name@example.com"),
    ("author_email", "user@localhost", "like name@example.com"),
    ("author_email", "user@exa mple.com", "like name@example.com"),
    ("author_email", "user@@example.com", "like name@example.com"),
    ("author_email", "first..last@example.com", "like name@example.com"),
    ("author_email", "name@example.c", "like name@example.com"),
    ("author_email", "{{x}}@example.com", "like name@example.com"),
    ("author_email", "<a@example.com>", "like name@example.com"),
    ("author_email", "e" * 250 + "@example.com", "at most 254"),
    ("github_owner", "", "must not be empty"),
    ("github_owner", "-org", "begin or end with -"),
    ("github_owner", "org-", "begin or end with -"),
    ("github_owner", "my--org", "two hyphens in a row"),
    ("github_owner", "my_org", "only letters, digits, -"),
    ("github_owner", "my org", "only letters, digits, -"),
    ("github_owner", "o" * 40, "at most 39"),
    # GitLab's rules for the path of a group, and of each group of a nested one.
    ("gitlab_group", "", "must not be empty"),
    ("gitlab_group", "my group", "letters, digits, _ - . /"),
    ("gitlab_group", "org/té", "letters, digits, _ - . /"),
    ("gitlab_group", "/org", "joined by one /"),
    ("gitlab_group", "org/", "joined by one /"),
    ("gitlab_group", "org//team", "joined by one /"),
    ("gitlab_group", "-org", "start/end in ._-"),
    ("gitlab_group", "org/team.", "start/end in ._-"),
    ("gitlab_group", "org/_team", "start/end in ._-"),
    ("gitlab_group", "my--org", "._- twice in a row"),
    ("gitlab_group", "org/a._b", "._- twice in a row"),
    ("gitlab_group", "org.git", "end .git/.atom"),
    ("gitlab_group", "repo.atom/team", "end .git/.atom"),
    ("gitlab_group", "/".join("g" * 21), "at most 20 groups deep"),
    ("gitlab_group", "g" * 256, "at most 255"),
    ("gitlab_group", "org/team\n", "line break"),
    ("description", "", "must not be empty"),
    ("description", "   ", "must not be empty"),
    ("description", 'Says "hello"', 'a " or a \\'),
    ("description", "back\\slash", 'a " or a \\'),
    ("description", "two\nlines", "line break"),
    ("description", "Uses {{ jinja }}", "Jinja"),
    ("description", "d" * 201, "at most 200"),
    ("author_name", "", "must not be empty"),
    ("author_name", 'Ada "The Countess" Lovelace', 'a " or a \\'),
    ("author_name", "Ada <ada@example.com>", "plain name"),
    ("author_name", "back\\slash", 'a " or a \\'),
    ("author_name", "{% if %}", "Jinja"),
    ("author_name", "a" * 101, "at most 100"),
    # Several rules could fire: the reason is the one the answer most plainly breaks.
    ("project_name", "My Project\n", "line break"),
    ("project_name", "1 Model-", "start with an ASCII letter"),
    ("project_name", "Model!" + "m" * 70, "letters, digits"),
    ("project_name", "Model\t-", "control characters"),
    ("package_name", "json\n", "line break"),
    ("package_name", "yaml\x00", "control characters"),
    ("package_name", "Class", "start with a lowercase letter"),
    ("package_name", "class_", "end with an underscore"),
    ("package_name", "test_api_", "end with an underscore"),
    ("package_name", "json-" + "m" * 60, "only a-z, 0-9 and _"),
    ("package_name", "m" * 51 + "_", "at most 50"),
    ("author_email", "a@example.com\n", "line break"),
    ("author_email", "{{x}}" * 60 + "@example.com", "at most 254"),
    ("github_owner", "my-org\n", "line break"),
    ("github_owner", "-" + "o" * 39, "at most 39"),
    ("github_owner", "-my_org", "only letters, digits, -"),
    ("description", '"quoted"\r', "line break"),
    ("description", '"' * 201, "at most 200"),
    ("author_name", 'Ada "\u2029', "line break"),
    ("author_name", "\t", "control characters"),
]


@pytest.mark.parametrize(("question", "answer", "reason"), BAD_ANSWERS)
def test_bad_answer_is_refused_with_its_reason(
    template_snapshot: Path, tmp_path: Path, question: str, answer: str, reason: str
) -> None:
    answers = {**asked_with(question), question: answer}
    message = _refusal(template_snapshot, tmp_path / "project", **answers)
    assert message.startswith(f"Validation error for question '{question}': "), message
    assert reason in message, message


BAD_CODE_OWNERS = [
    "alice",
    "@alice,@bob",
    "@",
    "@alice @",
    "@my-org/ml team",
    "",
    "@alice @bob ",
    "@{{ x }}",
    "@my-org/",
]


@pytest.mark.parametrize("answer", BAD_CODE_OWNERS)
def test_bad_code_owners_are_refused(template_snapshot: Path, tmp_path: Path, answer: str) -> None:
    message = _refusal(
        template_snapshot, tmp_path / "project", team_size=TEAM_SIZES[-1], code_owners=answer
    )
    assert message == (
        "Validation error for question 'code_owners': must be like @alice @my-org/ml-team"
    )


@pytest.mark.parametrize(
    ("answer", "provider", "refused"),
    [
        # GitLab's owners may be nested groups; GitHub's only an organisation's team.
        ("@my-org/ml/reviewers", "github", True),
        ("@my-org/ml/reviewers @alice.b", "gitlab", False),
        ("@my-org/ml team", "gitlab", True),
        ("@my-org//ml", "gitlab", True),
        ("my-org/ml", "gitlab", True),
    ],
)
def test_code_owners_follow_the_ci_providers_rules(
    template_snapshot: Path, tmp_path: Path, answer: str, provider: str, refused: bool
) -> None:
    answers = {"team_size": TEAM_SIZES[-1], "ci_provider": provider, "code_owners": answer}
    if not refused:
        _copy(template_snapshot, tmp_path / "project", **answers)
        return
    message = _refusal(template_snapshot, tmp_path / "project", **answers)
    example = "@my-org/ml/qa" if provider == "gitlab" else "@my-org/ml-team"
    assert message.endswith(f"'code_owners': must be like @alice {example}")


# GitHub's forms of an owner: a user, or an organisation's team (an organisation alone is
# not accepted); a team's slug is lowercase letters, digits and single hyphens.
GITHUB_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
TEAM_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"


def test_default_code_owner_is_a_team_github_accepts(
    render: Callable[..., GeneratedProject],
) -> None:
    """The default names a team of the organisation (`@org/team`), never `@org`, which
    GitHub refuses; the rendered CODEOWNERS has that one owner for every path."""
    project = render(team_size=TEAM_SIZES[-1], github_owner="acme-labs")
    owners = project.answers["code_owners"]
    assert re.fullmatch(rf"@acme-labs/{TEAM_SLUG}", owners), owners
    text = (project.path / ".github" / "CODEOWNERS").read_text(encoding="utf-8")
    rules = [line.split() for line in text.splitlines() if line and not line.startswith("#")]
    assert rules == [["*", owners]]
    for owner in rules[0][1:]:
        assert re.fullmatch(rf"@{GITHUB_NAME}/{TEAM_SLUG}|@{GITHUB_NAME}", owner), owner


@pytest.mark.parametrize(
    ("project_name", "package_name"),
    [
        ("Churn Predictor 2.0", "churn_predictor_2_0"),
        # 64 characters whose 50th is a separator: the default is cut, never left invalid.
        ("A" * 49 + " " + "B" * 14, "a" * 49),
        ("M" * 64, "m" * 50),
    ],
)
def test_a_valid_project_name_derives_a_valid_package_name(
    render: Callable[..., GeneratedProject], project_name: str, package_name: str
) -> None:
    project = render(project_name=project_name)
    assert project.package == package_name


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
    pytest.param(
        {
            "project_name": "Nested Groups",
            "author_name": "Ada",
            "author_email": "ada@example.com",
            "description": "Hosted on GitLab, in a subgroup of a subgroup.",
            "ci_provider": "gitlab",
            "gitlab_group": "Org.Name/ml_team/x-1",
            "code_owners": "@Org.Name/ml_team/reviewers @ada.l",
        },
        id="gitlab-nested-groups",
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
