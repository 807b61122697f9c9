"""The cookiecutter export generates, byte for byte, the projects Copier generates.

The template is exported once per session from the working-tree snapshot Copier renders
(conftest's `template_snapshot`), with the snapshot's path as the source the projects
record, so both engines write the same .copier-answers.yml. A sample of answers that
gives every choice of every choice question (read from copier.yml) is rendered by both,
and the trees must hold the same files and folders, contents and executable bits.
The comparison leaves out only each engine's own record of the answers, and of those
only cruft writes one into the project: `.cruft.json`. Cookiecutter keeps its replay
file outside the project, and .copier-answers.yml is part of the template, so it is
compared like any other file.
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import shlex
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import copier
import cruft
import pathspec
import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from jinja2.sandbox import SandboxedEnvironment

from copier_mlops import ROOT
from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.cookiecutter_export import ExportError, export
from copier_mlops.processes import GIT_ENV, clean_env, run

from helpers.template_repo import clone, only_command, run_documented

CONFIG = load_copier_config()
ASKED = {
    name: question
    for name, question in CONFIG.items()
    if isinstance(question, dict) and not name.startswith("_") and question.get("when") is not False
}
CHOICES = {name: choice_values(q) for name, q in ASKED.items() if "choices" in q}
VALIDATED = [name for name, question in ASKED.items() if "validator" in question]
ORG_DEFAULTS = ROOT / "docs" / "examples" / "org-defaults.yml"
README_SECTION = "Use it with cookiecutter or cruft"

# Free-text answers unlike the defaults, with characters YAML and TOML quote.
FREE_TEXT = {
    "project_name": "Weather Nowcast 2",
    "description": "Predicts tomorrow's rain & wind, <for> the region's farms",
    "author_name": "Ada O'Lovelace",
    "author_email": "ada.o@example.org",
    "github_owner": "acme-data",
    "code_owners": "@acme-data/ml @bob",
}


def _sample() -> list[dict[str, str]]:
    """Answers that together give every choice of every choice question: row i takes each
    question's choice i, shifted by the question's place so the rows mix differently;
    then the largest project (the last stage and team size) with other free text."""
    rows = []
    for i in range(max(len(values) for values in CHOICES.values())):
        rows.append(
            {q: values[(i + k) % len(values)] for k, (q, values) in enumerate(CHOICES.items())}
        )
    rows.append({q: values[-1] for q, values in CHOICES.items()} | FREE_TEXT)
    return rows


SAMPLE = _sample()


def _id(answers: dict[str, str]) -> str:
    return "-".join(answers[q] for q in CHOICES)


def _tree(root: Path, leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Every folder and file under `root` but those `leave_out` names (and what is in
    them): a file's bytes and executable bits."""
    tree: dict[str, Any] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if any(rel == name or rel.startswith(f"{name}/") for name in leave_out):
            continue
        tree[rel] = "folder" if path.is_dir() else (path.read_bytes(), path.stat().st_mode & 0o111)
    return tree


def _assert_same_tree(copier_tree: dict[str, Any], other_tree: dict[str, Any]) -> None:
    only_copier = sorted(set(copier_tree) - set(other_tree))
    only_other = sorted(set(other_tree) - set(copier_tree))
    assert not only_copier and not only_other, (
        f"only in Copier's: {only_copier}; only in the export's: {only_other}"
    )
    for rel, entry in copier_tree.items():
        if entry == other_tree[rel]:
            continue
        if entry == "folder" or other_tree[rel] == "folder":
            raise AssertionError(f"{rel}: a folder in one tree, a file in the other")
        (theirs, their_mode), (ours, our_mode) = entry, other_tree[rel]
        assert their_mode == our_mode, f"{rel}: executable bits {their_mode:o} != {our_mode:o}"
        diff = difflib.unified_diff(
            theirs.decode(errors="replace").splitlines(),
            ours.decode(errors="replace").splitlines(),
            "copier",
            "cookiecutter",
            lineterm="",
        )
        raise AssertionError(f"{rel} differs:\n" + "\n".join(list(diff)[:40]))


def _copier(snapshot: Path, dst: Path, answers: dict[str, str], quiet: bool = True) -> None:
    copier.run_copy(
        str(snapshot), dst, data=answers, defaults=True, unsafe=False, quiet=quiet, vcs_ref="HEAD"
    )


def _cookiecutter(template: Path, output_dir: Path, answers: dict[str, str]) -> Path:
    """Generate with cookiecutter as a user does, its replay kept out of $HOME."""
    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=answers,
            output_dir=str(output_dir),
            default_config={
                "replay_dir": str(output_dir.parent / "cookiecutter-replay"),
                "cookiecutters_dir": str(output_dir.parent / "cookiecutters"),
            },
        )
    )


def _commit_all(repo: Path, message: str) -> None:
    env = {**clean_env(), **GIT_ENV}
    if not (repo / ".git").exists():
        run(["git", "init", "-q", "-b", "main"], repo, env=env)
    run(["git", "add", "-A"], repo, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", message], repo, env=env)


@pytest.fixture(scope="session")
def exported(template_snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export of the snapshot, the snapshot's path recorded as the template's source
    (as Copier records the path it renders from)."""
    return export(
        tmp_path_factory.mktemp("export") / "template",
        root=template_snapshot,
        src_path=str(template_snapshot),
    )


def test_sample_covers_every_choice() -> None:
    for question, values in CHOICES.items():
        assert {row[question] for row in SAMPLE} == set(values), question
    assert {"ci_provider", "primary_user", "maturity_stage", "license"} <= set(CHOICES)


@pytest.mark.parametrize("answers", SAMPLE, ids=_id)
def test_both_engines_generate_the_same_project(
    exported: Path,
    template_snapshot: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    answers: dict[str, str],
) -> None:
    """Same files, folders, bytes and executable bits; the message after generating is
    Copier's, from the same copier.yml."""
    generated = _cookiecutter(exported, tmp_path / "cookiecutter", answers)
    cookiecutter_message = capfd.readouterr().err.replace(str(generated), "DST")
    assert cookiecutter_message.strip(), "the post-generation hook printed no message"
    copier_dst = tmp_path / "copier" / generated.name
    _copier(template_snapshot, copier_dst, answers, quiet=False)
    copier_output = capfd.readouterr().err.replace(str(copier_dst), "DST")
    _assert_same_tree(_tree(copier_dst), _tree(generated))
    assert cookiecutter_message.strip() in copier_output


@pytest.fixture(scope="session")
def exported_repo(exported: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The export committed to a git repository, as cruft needs it."""
    repo = tmp_path_factory.mktemp("export-repo") / "template"
    shutil.copytree(exported, repo)
    _commit_all(repo, "Export")
    return repo


def test_cruft_creates_the_same_project(
    exported_repo: Path, template_snapshot: Path, tmp_path: Path
) -> None:
    """`cruft create` from the export gives Copier's project plus .cruft.json, and
    `cruft check` finds it up to date."""
    answers = SAMPLE[-1]
    generated = cruft.create(
        str(exported_repo), output_dir=tmp_path / "cruft", no_input=True, extra_context=answers
    )
    copier_dst = tmp_path / "copier" / generated.name
    _copier(template_snapshot, copier_dst, answers)
    _assert_same_tree(_tree(copier_dst), _tree(generated, frozenset({".cruft.json"})))
    assert cruft.check(generated)


def test_cruft_update_moves_a_project_up_a_stage(
    exported_repo: Path, template_snapshot: Path, tmp_path: Path
) -> None:
    """`cruft update` with the next stage as the new answer makes an untouched project
    what Copier generates for that stage (cruft's way to move up, where the generated
    README gives Copier's)."""
    stages = CONFIG["ladder"]["default"]["stages"]
    generated = cruft.create(
        str(exported_repo),
        output_dir=tmp_path / "cruft",
        no_input=True,
        extra_context={"maturity_stage": stages[0]},
    )
    _commit_all(generated, "Generate with cruft")
    assert cruft.update(generated, extra_context={"maturity_stage": stages[1]})
    copier_dst = tmp_path / "copier" / generated.name
    _copier(template_snapshot, copier_dst, {"maturity_stage": stages[1]})
    _assert_same_tree(_tree(copier_dst), _tree(generated, frozenset({".cruft.json", ".git"})))


def _refusal_by_copier(snapshot: Path, dst: Path, answers: dict[str, str]) -> str | None:
    try:
        _copier(snapshot, dst, answers)
    except ValueError as error:
        return str(error)
    shutil.rmtree(dst)
    return None


def _skipping(question: str) -> dict[str, str] | None:
    """A choice, the others left at their defaults, for which Copier does not ask
    `question` (its `when` renders false); None for a question always asked."""
    when = ASKED[question].get("when")
    if not isinstance(when, str):
        return None
    env = SandboxedEnvironment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    defaults = {name: str(q["default"]) for name, q in ASKED.items()}
    for choice, values in CHOICES.items():
        for value in values:
            if not yaml.safe_load(env.from_string(when).render(defaults | {choice: value})):
                return {choice: value}
    return None


REFUSAL_CASES = [(q, {}) for q in VALIDATED] + [
    (q, skipping) for q in VALIDATED if (skipping := _skipping(q)) is not None
]


@pytest.mark.parametrize(
    ("question", "others"),
    REFUSAL_CASES,
    ids=[f"{q}-{'-'.join(o.values()) or 'asked'}" for q, o in REFUSAL_CASES],
)
def test_a_bad_answer_is_refused_with_copiers_reason(
    exported: Path,
    template_snapshot: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    question: str,
    others: dict[str, str],
) -> None:
    """The first of a few bad answers Copier refuses for the question is refused by the
    pre-generation hook, with Copier's one-line reason, and nothing is generated; also
    for a question Copier does not ask for the other answers, whose answer it checks
    when one is given. A choice is bad only against a policy: each of its choices is
    tried under the documented organisation's (docs/examples/org-defaults.yml)."""
    if question in CHOICES:
        policy = yaml.safe_load(ORG_DEFAULTS.read_text(encoding="utf-8"))["org_policy"]
        others = others | {"org_policy": json.dumps(policy)}
    for answer in CHOICES.get(question, ["json", "", "-"]):
        answers = others | {question: answer}
        reason = _refusal_by_copier(template_snapshot, tmp_path / "copier", answers)
        if reason:
            break
    else:
        pytest.fail(f"Copier accepts every bad answer tried for {question}")
    capfd.readouterr()
    with pytest.raises(FailedHookException):
        _cookiecutter(exported, tmp_path / "cookiecutter", answers)
    assert capfd.readouterr().err.strip() == reason
    assert not list((tmp_path / "cookiecutter").glob("*")), "a refused project was left"


def _post_gen_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("post_gen", ROOT / "hooks/post_gen_project.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Patterns beyond those components.yml uses today, for each rule of gitignore's syntax.
SYNTHETIC_PATTERNS = [
    "*.py",
    "!src/*/train.py",
    "docs/",
    "**/records.py",
    "tests/**",
    "src/**/app.py",
    "a?c.md",
    "[RC]*.md",
    "[!R]*.md",
    "/README.md",
    "README.md  ",
    "# a comment",
    "\\#not-a-comment",
    "",
]


def test_the_hooks_gitignore_matching_is_copiers() -> None:
    """The post-generation hook's own gitignore matching (standard library only) agrees
    with pathspec's, which Copier uses, on every path of the template's tree for every
    pattern components.yml uses and one for each rule of the syntax, alone and together."""
    hook = _post_gen_hook()
    components = CONFIG["ladder"]["default"]["components"].values()
    patterns = sorted({p for c in components for p in c.get("paths", [])}) + SYNTHETIC_PATTERNS
    paths = set()
    for path in (ROOT / "template").rglob("*"):
        rel = path.relative_to(ROOT / "template").with_suffix(
            "" if path.suffix == ".jinja" else path.suffix
        )
        parts = [("pkg" if part == "{{package_name}}" else part) for part in rel.parts]
        paths |= {"/".join(parts[: i + 1]) for i in range(len(parts))}
    paths |= {"a/b/records.py", "abc.md", "Rx.md", "x/README.md", "#not-a-comment"}
    for lines in [[p] for p in patterns] + [patterns]:
        spec = pathspec.PathSpec.from_lines("gitignore", lines)
        ours = hook.matcher(lines)
        wrong = sorted(p for p in paths if ours(p) != spec.match_file(p))
        assert not wrong, f"{lines}: the hook and pathspec disagree on {wrong[:10]}"


def test_the_export_is_complete(exported: Path) -> None:
    """What cookiecutter needs: the questions in copier.yml's order with their choices,
    the default first; the extensions Copier's environment has; the hooks."""
    data = json.loads((exported / "cookiecutter.json").read_text(encoding="utf-8"))
    assert [k for k in data if k in ASKED] == list(ASKED)
    for name, values in CHOICES.items():
        # A default computed from earlier answers comes first as the template that
        # computes it, after the names it reads.
        default = str(ASKED[name]["default"])
        assert data[name][0].endswith(default)
        computed = "{{" in default or "{%" in default
        assert sorted(data[name][1:] if computed else data[name]) == sorted(values)
    assert "jinja2_ansible_filters.AnsibleCoreFiltersExtension" in data["_extensions"]
    assert {p.name for p in (exported / "hooks").iterdir()} == {
        "pre_gen_project.py",
        "post_gen_project.py",
    }


def test_a_new_component_file_and_shared_folder_are_exported(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """Nothing in the export lists components, questions, files or folders: a component
    added to components.yml, with a file of its own that includes from a new shared
    folder, an executable script, and new questions (yes or no, a number, YAML asked only
    when given, a choice whose default is a template) come out of both engines alike."""
    template = tmp_path / "template"
    shutil.copytree(template_snapshot, template, ignore=shutil.ignore_patterns(".git"))
    components = template / "components.yml"
    data = yaml.safe_load(components.read_text(encoding="utf-8"))
    only = CHOICES["ci_provider"][-1]
    data["ladder"]["default"]["components"]["provider_extra"] = {
        "stage": CONFIG["ladder"]["default"]["stages"][0],
        "team": CONFIG["ladder"]["default"]["team_sizes"][0],
        "only": {"ci_provider": [only]},
        "summary": "a file only one CI provider's projects get",
        "paths": ["/EXTRA.md"],
    }
    components.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (template / "extra_shared").mkdir()
    (template / "extra_shared" / "part.jinja").write_text(
        "Made for {{ project_name }}.\n", encoding="utf-8"
    )
    (template / "template" / "EXTRA.md.jinja").write_text(
        '# Extra\n\n{% include "extra_shared/part.jinja" %}', encoding="utf-8"
    )
    with (template / "copier.yml").open("a", encoding="utf-8") as copier_yml:
        copier_yml.write(
            "---\nextra_flag:\n  type: bool\n  help: A flag.\n  default: false\n"
            "extra_count:\n  type: int\n  help: A count.\n  default: 3\n"
            "extra_policy:\n  type: yaml\n  help: A policy.\n"
            "  when: '{{ extra_policy is defined }}'\n  default: {}\n"
            "extra_choice:\n  type: str\n  help: A choice.\n  choices: [a, b]\n"
            "  default: \"{{ 'b' if extra_policy.b | default(false) else 'a' }}\"\n"
        )
    (template / "template" / "NUMBERS.md.jinja").write_text(
        "{{ extra_flag }} {{ extra_count + 1 }} {{ extra_choice }}\n", encoding="utf-8"
    )
    script = template / "template" / "run-me.sh"
    script.write_text("#!/bin/sh\necho {{ not rendered }}\n", encoding="utf-8")
    script.chmod(0o755)
    _commit_all(template, "A new component")
    exported = export(tmp_path / "export", root=template, src_path=str(template))
    assert (exported / "templates" / "extra_shared" / "part.jinja").is_file()
    for index, provider in enumerate(CHOICES["ci_provider"]):
        flag, count = ("true", "5") if index % 2 == 0 else ("false", "3")
        answers = {"ci_provider": provider, "extra_flag": flag, "extra_count": count}
        if index % 2 == 0:
            answers["extra_policy"] = "{b: true}"
        generated = _cookiecutter(exported, tmp_path / f"cookiecutter-{provider}", answers)
        copier_dst = tmp_path / f"copier-{provider}" / generated.name
        _copier(template, copier_dst, answers)
        _assert_same_tree(_tree(copier_dst), _tree(generated))
        assert (generated / "EXTRA.md").exists() == (provider == only)
        assert (generated / "run-me.sh").stat().st_mode & 0o111
        numbers = (generated / "NUMBERS.md").read_text(encoding="utf-8")
        choice = "b" if index % 2 == 0 else "a"
        assert numbers == f"{flag == 'true'} {int(count) + 1} {choice}\n"


def test_a_copier_setting_the_export_does_not_reproduce_stops_it(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """A setting the export has no cookiecutter equivalent for is named, not ignored."""
    template = tmp_path / "template"
    shutil.copytree(template_snapshot, template)
    with (template / "copier.yml").open("a", encoding="utf-8") as copier_yml:
        copier_yml.write("---\n_message_before_copy: Hello\n")
    with pytest.raises(ExportError, match="_message_before_copy"):
        export(tmp_path / "export", root=template)


def test_copier_update_moves_a_cookiecutter_project_up_a_stage(
    exported: Path, template_snapshot: Path, tmp_path: Path
) -> None:
    """The .copier-answers.yml a cookiecutter project gets is enough for `copier update`,
    which the project's README gives for moving up a stage: from the first stage to the
    next, an untouched project becomes what Copier generates for the next stage."""
    stages = CONFIG["ladder"]["default"]["stages"]
    generated = _cookiecutter(exported, tmp_path / "cookiecutter", {"maturity_stage": stages[0]})
    _commit_all(generated, "Generate with cookiecutter")
    copier.run_update(
        generated,
        data={"maturity_stage": stages[1]},
        defaults=True,
        overwrite=True,
        unsafe=False,
        quiet=True,
        skip_answered=True,
        vcs_ref="HEAD",
    )
    copier_dst = tmp_path / "copier" / generated.name
    _copier(template_snapshot, copier_dst, {"maturity_stage": stages[1]})
    _assert_same_tree(_tree(copier_dst), _tree(generated, frozenset({".git"})))


def test_the_documented_commands_export_and_generate(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """The README's export command, run in a clone, and docs/cookiecutter.md's
    `cookiecutter --no-input` command give a project with the answers given. `uv run
    python` is this environment's Python (which has cookiecutter), as `uv run` in the
    clone would make one like it; the `pip install`s are what this environment has."""
    clone_dir = clone(template_snapshot, tmp_path / "copier-mlops")
    command = only_command(ROOT / "README.md", README_SECTION, "cookiecutter_export")
    run_documented(command.replace("uv run python", shlex.quote(sys.executable)), clone_dir)
    generate = only_command(ROOT / "docs/cookiecutter.md", "Generate a project", "--no-input")
    bin_dir = Path(sys.executable).parent
    run_documented(f"PATH={shlex.quote(str(bin_dir))}:$PATH {generate}", clone_dir)
    (answers_file,) = clone_dir.glob("*/.copier-answers.yml")
    answers = yaml.safe_load(answers_file.read_text(encoding="utf-8"))
    for pair in generate.split()[-2:]:
        question, answer = pair.split("=")
        assert answers[question] == answer
