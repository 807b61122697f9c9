"""The conformance check every project has: a fresh project passes `make conformance`;
taking away what a check looks for fails that check with a message that says what to
restore; the statement moves with the template version on `copier update`; and the
organisation's policy (`org_policy`) is refused by Copier and enforced by the check."""

from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import copier
import pytest
import yaml

from copier_mlops import ROOT
from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES, components_on
from copier_mlops.processes import run

from helpers.generated_project import GeneratedProject
from helpers.locking import lock
from helpers.template_repo import clone, commit_all, git, tag_release

ORG_DEFAULTS = ROOT / "docs" / "examples" / "org-defaults.yml"
PROBLEM_TYPES = choice_values(load_copier_config()["problem_type"])
SHA = re.compile(r"@([0-9a-f]{40})")


def checker(project: Path) -> dict[str, Any]:
    """The project's own checker's JSON report, run with this interpreter."""
    package = yaml.safe_load((project / ".copier-answers.yml").read_text())["package_name"]
    script = project / "src" / package / "conformance.py"
    proc = run(
        [sys.executable, str(script), "--json", "--root", str(project)], project, check=False
    )
    report: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == (0 if report["passed"] else 1)
    return report


def failures(project: Path) -> dict[str, list[str]]:
    return {c["id"]: c["problems"] for c in checker(project)["checks"] if not c["passed"]}


def statement(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "conformance.toml").read_text(encoding="utf-8"))


def locked_copy(project: GeneratedProject, dest: Path) -> Path:
    """A copy of a rendered project with its lock file, as `make setup` leaves it,
    committed."""
    shutil.copytree(project.path, dest)
    lock(dest)
    git(dest, "init", "-q", "-b", "main")
    commit_all(dest, "Generate")
    return dest


@pytest.fixture(scope="module")
def deploy_team(
    render: Callable[..., GeneratedProject], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A deploy-stage project of a small team, locked and committed; tests copy it."""
    project = render(maturity_stage="deploy", team_size="small")
    return locked_copy(project, tmp_path_factory.mktemp("deploy") / "project")


def _copy(source: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(source, tmp_path / "project"))


def _checker_module() -> ModuleType:
    """The generated project's checker, loaded from the template: it is plain Python."""
    path = ROOT / "template" / "src" / "{{package_name}}" / "conformance.py"
    spec = importlib.util.spec_from_file_location("generated_conformance", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_declared_checks_are_well_formed() -> None:
    """Every check a component declares has an id, a one-line reason and a kind the
    checker knows; an `only` names answers copier.yml offers."""
    kinds = set(_checker_module().KINDS)
    config = load_copier_config()
    declared = [
        (name, check)
        for name, component in LADDER.components.items()
        for check in component.get("conformance", [])
    ]
    assert declared
    for name, check in declared:
        where = f"{name}: {check.get('id')}"
        assert re.fullmatch(r"[a-z][a-z0-9-]*", check["id"]), where
        assert check["kind"] in kinds, where
        assert check["reason"] and "\n" not in check["reason"] and len(check["reason"]) <= 100, (
            where
        )
        for question, allowed in check.get("only", {}).items():
            assert set(allowed) <= set(choice_values(config[question])), where


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_check_ids_are_unique_in_every_project(problem_type: str) -> None:
    """An id names one check, so one section of CONFORMANCE.md: at most one check of an
    id is on for any answers."""
    for stage, team in itertools.product(STAGES, TEAM_SIZES):
        on = components_on(stage, team, {"problem_type": problem_type})
        ids = [
            check["id"]
            for name in on
            for check in LADDER.components[name].get("conformance", [])
            if all(
                {"problem_type": problem_type}.get(q, LADDER.defaults.get(q)) in allowed
                for q, allowed in check.get("only", {}).items()
            )
        ]
        assert len(ids) == len(set(ids)), (stage, team, ids)


def test_a_fresh_project_passes_make_conformance(deploy_team: Path, tmp_path: Path) -> None:
    project = _copy(deploy_team, tmp_path)
    proc = run(["make", "conformance"], project, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "the project conforms" in proc.stdout
    ids = [check["id"] for check in statement(project)["checks"]]
    assert {"dockerfile", "code-owners", "actions-pinned", "evaluation-gate"} <= set(ids)


def _unpin(project: Path) -> None:
    ci = project / ".github" / "workflows" / "ci.yml"
    ci.write_text(SHA.sub("@v4", ci.read_text(encoding="utf-8"), count=1), encoding="utf-8")


def _disable_gate(project: Path) -> None:
    config = next(project.glob("src/*/config.py"))
    text = config.read_text(encoding="utf-8")
    start = text.index("gate_min_accuracy:")
    end = text.index("default=0.9", start)
    config.write_text(text[:end] + "default=0.0" + text[end + 11 :], encoding="utf-8")


BREAKS: dict[str, tuple[Callable[[Path], None], str, str]] = {
    # how the project is broken: (the change, the check that fails, what it must name)
    "delete-dockerfile": (
        lambda p: (p / "Dockerfile").unlink(),
        "dockerfile",
        "Dockerfile is missing: restore it",
    ),
    "delete-codeowners": (
        lambda p: (p / ".github" / "CODEOWNERS").unlink(),
        "code-owners",
        ".github/CODEOWNERS is missing: restore it",
    ),
    "unpin-an-action": (_unpin, "actions-pinned", "actions/checkout@v4 is not pinned: pin it"),
    "disable-the-gate": (
        _disable_gate,
        "evaluation-gate",
        "gate_min_accuracy is 0 (the default in",
    ),
}


@pytest.mark.parametrize("change", list(BREAKS))
def test_a_broken_project_fails_naming_what_to_restore(
    deploy_team: Path, tmp_path: Path, change: str
) -> None:
    project = _copy(deploy_team, tmp_path)
    breaking, check, message = BREAKS[change]
    breaking(project)
    proc = run(["make", "conformance"], project, check=False)
    assert proc.returncode != 0
    assert re.search(rf"FAIL +{check} ", proc.stdout), proc.stdout
    assert message in proc.stdout, proc.stdout
    assert f"See CONFORMANCE.md#{check}" in proc.stdout
    # Only the check, and a check of what the removed file brought (the image's user).
    assert set(failures(project)) in ({check}, {check, "non-root-image"})


def test_every_check_links_to_its_section(maximal_project: GeneratedProject) -> None:
    docs = (maximal_project.path / "CONFORMANCE.md").read_text(encoding="utf-8")
    sections = re.findall(r"^## (.+)$", docs, flags=re.MULTILINE)
    ids = [check["id"] for check in statement(maximal_project.path)["checks"]]
    assert sections == ids
    assert len(set(ids)) == len(ids)


@pytest.fixture(scope="module", params=choice_values(load_copier_config()["ci_provider"]))
def maximal_copy(
    request: pytest.FixtureRequest,
    render: Callable[..., GeneratedProject],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The maximal project on each CI provider, with a lock file; the class tests change
    and restore it."""
    project = render(maturity_stage=STAGES[-1], team_size=TEAM_SIZES[-1], ci_provider=request.param)
    return locked_copy(project, tmp_path_factory.mktemp("maximal") / "project")


def test_the_maximal_project_conforms(maximal_copy: Path) -> None:
    assert failures(maximal_copy) == {}


def test_every_declared_file_fails_its_check_when_removed(maximal_copy: Path) -> None:
    """Each file check, and each check that reads a file (settings, the gate, the
    non-root image), fails naming the file when it is gone."""
    checks = [c for c in statement(maximal_copy)["checks"] if "path" in c]
    assert len([c for c in checks if c["kind"] == "file"]) >= 10
    for check in checks:
        path = maximal_copy / check["path"]
        kept = path.read_bytes()
        path.unlink()
        try:
            failed = failures(maximal_copy)
        finally:
            path.write_bytes(kept)
        assert check["id"] in failed, f"{check['path']} removed, {check['id']} passes"
        assert any(check["path"] in problem for problem in failed[check["id"]])
        if check["kind"] == "file" and check["path"] != "uv.lock":
            assert "restore it" in failed[check["id"]][0]
    assert failures(maximal_copy) == {}


def test_every_ci_job_and_every_pinned_reference_is_checked(maximal_copy: Path) -> None:
    """Renaming any job the components bring fails `ci-jobs`; moving any action or image
    the CI files use to a floating tag fails the pin check, once per reference."""
    checks = statement(maximal_copy)["checks"]
    [jobs] = [c for c in checks if c["kind"] == "ci_jobs"]
    [pins] = [c for c in checks if c["kind"] == "pinned"]
    indent = "  " if jobs["under"] else ""
    files = sorted({f for pattern in jobs["files"] for f in maximal_copy.glob(pattern)})
    for job in jobs["jobs"]:
        key = f"\n{indent}{job}:\n"
        [ci_file] = [f for f in files if key in f.read_text(encoding="utf-8")]
        kept = ci_file.read_text(encoding="utf-8")
        ci_file.write_text(kept.replace(key, f"\n{indent}{job}-renamed:\n"))
        try:
            failed = failures(maximal_copy)
        finally:
            ci_file.write_text(kept)
        patterns = ", ".join(jobs["files"])
        assert failed == {"ci-jobs": [f"no CI job {job} in {patterns}: {jobs['fix']}"]}
    reference = re.compile(pins["reference"], re.MULTILINE)
    for ci_file in sorted({f for pattern in pins["files"] for f in maximal_copy.glob(pattern)}):
        kept = ci_file.read_text(encoding="utf-8")
        used = [m for m in reference.finditer(kept) if not m.group(1).startswith("./")]
        floating = kept
        for match in reversed(used):
            name = re.split("[@:]", match.group(1).split("/")[-1])[0]
            prefix = (
                match.group(1)[: match.group(1).rindex("/") + 1] if "/" in match.group(1) else ""
            )
            tag = "@v1" if "@" in match.group(1) else ":latest"
            floating = floating[: match.start(1)] + prefix + name + tag + floating[match.end(1) :]
        ci_file.write_text(floating)
        try:
            failed = failures(maximal_copy)
        finally:
            ci_file.write_text(kept)
        assert len(failed.get(pins["id"], [])) == len(used) > 0, ci_file.name


def test_every_image_must_end_as_a_user_other_than_root(maximal_copy: Path) -> None:
    checks = [c for c in statement(maximal_copy)["checks"] if c["kind"] == "non_root"]
    assert {c["path"] for c in checks} == {"Dockerfile", "ops/Dockerfile"}
    for check in checks:
        dockerfile = maximal_copy / check["path"]
        kept = dockerfile.read_text(encoding="utf-8")
        dockerfile.write_text(kept + "USER root\n")
        try:
            failed = failures(maximal_copy)
        finally:
            dockerfile.write_text(kept)
        assert failed == {
            check["id"]: [f"{check['path']}'s final stage runs as root: {check['fix']}"]
        }


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_every_gate_threshold_fails_at_its_bound(
    render: Callable[..., GeneratedProject], problem_type: str
) -> None:
    """Each threshold of each problem type's gate, set in .env to the value that lets a
    model no better than the baseline through, fails the gate check."""
    project = render(
        fresh=True, maturity_stage="deploy", team_size="solo", problem_type=problem_type
    )
    [gate] = [c for c in statement(project.path)["checks"] if c["kind"] == "gate"]
    assert "evaluation-gate" not in failures(project.path)
    for threshold in gate["thresholds"]:
        # The bound itself where it is excluded, just beyond it where it is included.
        [value] = [
            threshold[key] + step
            for key, step in (("gt", 0.0), ("lt", 0.0), ("ge", -0.5), ("le", 0.5))
            if key in threshold
        ]
        variable = f"{gate['env_prefix']}{threshold['setting']}".upper()
        (project.path / ".env").write_text(f"{variable}={value}\n", encoding="utf-8")
        [problem] = failures(project.path)["evaluation-gate"]
        assert problem.startswith(f"{threshold['setting']} is {value:g} (.env's {variable})")


# --------------------------------------------------------------------------------------
# The statement moves with the template version
# --------------------------------------------------------------------------------------

NEW_REASON = "the environment is locked, a reason reworded in the next release"


def test_the_statement_moves_with_the_template_version(
    template_snapshot: Path, tmp_path: Path
) -> None:
    template = clone(template_snapshot, tmp_path / "copier-mlops")
    tag_release(template, "v0.1.0")
    project = tmp_path / "project"
    copier.run_copy(
        str(template),
        project,
        data={"team_size": "solo"},
        defaults=True,
        vcs_ref="v0.1.0",
        quiet=True,
    )
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    assert statement(project)["template_version"] == "v0.1.0"

    components = template / "components.yml"
    old_reason = statement(project)["checks"][0]["reason"]
    components.write_text(components.read_text().replace(old_reason, NEW_REASON, 1))
    commit_all(template, "Reword a check's reason")
    tag_release(template, "v0.2.0")
    copier.run_update(project, defaults=True, overwrite=True, vcs_ref="v0.2.0", quiet=True)

    moved = statement(project)
    assert moved["template_version"] == "v0.2.0"
    assert moved["checks"][0]["reason"] == NEW_REASON
    assert NEW_REASON[:1].upper() + NEW_REASON[1:] in (project / "CONFORMANCE.md").read_text()


# --------------------------------------------------------------------------------------
# The organisation's policy
# --------------------------------------------------------------------------------------


def _copy_with_org_defaults(template: Path, dest: Path, **answers: Any) -> None:
    """`copier copy --data-file org-defaults.yml`, with more answers (`-d`)."""
    copier.run_copy(
        str(template),
        dest,
        data={**yaml.safe_load(ORG_DEFAULTS.read_text()), **answers},
        defaults=True,
        vcs_ref="HEAD",
        quiet=True,
    )


def test_the_org_defaults_make_a_conforming_project(
    template_snapshot: Path, tmp_path: Path
) -> None:
    """With the example data file and no other answers, the project takes the stage and
    team size the policy allows, records the policy, and conforms."""
    project = tmp_path / "project"
    _copy_with_org_defaults(template_snapshot, project)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    policy = yaml.safe_load(ORG_DEFAULTS.read_text())["org_policy"]
    assert answers["org_policy"] == policy
    assert answers["maturity_stage"] == policy["maturity_stage"]["at_least"]
    assert answers["team_size"] not in policy["team_size"]["none_of"]
    lock(project)
    assert failures(project) == {}
    assert "org-policy" in [check["id"] for check in statement(project)["checks"]]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (
            {"team_size": "solo"},
            "Validation error for question 'team_size': is forbidden by org_policy",
        ),
        (
            {"maturity_stage": "explore"},
            "Validation error for question 'maturity_stage': is below org_policy's minimum",
        ),
        (
            {"org_policy": {"license": {"none_of": ["MIT"]}}},
            "Validation error for question 'org_policy': governs only the stage and team",
        ),
        (
            {"org_policy": {"team_size": {"none_of": ["tiny"]}}},
            "Validation error for question 'org_policy': names a choice not offered",
        ),
    ],
)
def test_copier_refuses_what_the_policy_forbids(
    template_snapshot: Path, tmp_path: Path, answer: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        _copy_with_org_defaults(template_snapshot, tmp_path / "project", **answer)


@pytest.fixture
def policy_project(template_snapshot: Path, tmp_path: Path) -> Path:
    project = tmp_path / "project"
    _copy_with_org_defaults(template_snapshot, project)
    lock(project)
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "Generate")
    return project


def test_an_answers_file_edited_against_the_policy_fails(policy_project: Path) -> None:
    answers = policy_project / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("team_size: small", "team_size: solo"))
    [problem] = failures(policy_project)["org-policy"]
    assert "records team_size: solo, which the organisation's policy forbids (not solo:" in problem
    assert "-d team_size=small" in problem


def test_the_policy_survives_an_update_and_refuses_a_stage_below_it(
    policy_project: Path,
) -> None:
    copier.run_update(policy_project, defaults=True, overwrite=True, vcs_ref="HEAD", quiet=True)
    answers = yaml.safe_load((policy_project / ".copier-answers.yml").read_text())
    assert answers["org_policy"] == yaml.safe_load(ORG_DEFAULTS.read_text())["org_policy"]
    with pytest.raises(ValueError, match="is below org_policy's minimum"):
        copier.run_update(
            policy_project,
            data={"maturity_stage": "explore"},
            defaults=True,
            overwrite=True,
            vcs_ref="HEAD",
            quiet=True,
        )
    assert failures(policy_project) == {}
