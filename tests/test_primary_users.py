"""What the `primary_user` answer brings, each path built once and run as its user would.

- software_engineer (deploy): the API's OpenAPI document, committed, is what the service
  says, and the typed client in client/ passes the project's own `make check`, which
  calls the running service with it; the README opens with how to call the model.
- data_scientist (explore): notebooks/explore.ipynb runs top to bottom in the project's
  environment, and is committed without outputs.
- ml_engineer (the default): neither.

The components and what they own are components.yml's; the stored documents each project
includes are scripts/api_documents.py's.
"""

from __future__ import annotations

import json
import re
import shlex
import textwrap
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from copier_mlops.docker_replay import DockerReplay, parse_dockerfile
from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES
from copier_mlops.processes import run

from helpers.generated_project import GeneratedProject

SOFTWARE_ENGINEER = "software_engineer"
DATA_SCIENTIST = "data_scientist"
# A description with what JSON and Markdown treat specially, as the stored OpenAPI document
# must render any description the validator lets through, byte for byte.
DESCRIPTION = "Prédit l'état <b>&</b> d'une cuve — naïve «quotes», 50% {braces}"
NOTEBOOK = "notebooks/explore.ipynb"
# Runs the notebook in a fresh kernel of the project's environment, as a reader would.
EXECUTE_NOTEBOOK = textwrap.dedent(
    f"""
    import json, sys
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read({NOTEBOOK!r}, as_version=nbformat.NO_CONVERT)
    NotebookClient(notebook, kernel_name="python3", timeout=600).execute()
    nbformat.write(notebook, sys.argv[1])
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    ran = [[cell.execution_count, [out.output_type for out in cell.outputs]] for cell in code]
    json.dump(ran, sys.stdout)
    """
)


def strip_hook(project: GeneratedProject) -> list[str]:
    """The command of the project's git hook that strips notebooks."""
    config = yaml.safe_load((project.path / ".pre-commit-config.yaml").read_text())
    (entry,) = [
        hook["entry"]
        for repo in config["repos"]
        for hook in repo["hooks"]
        if hook["id"] == "nbstripout" and "jupyter" in hook["types"]
    ]
    return shlex.split(entry)


def owned_by(*answers: str) -> set[str]:
    """The components that only the given primary users get."""
    return {
        name
        for name, component in LADDER.components.items()
        if set(component.get("only", {}).get("primary_user", [])) & set(answers)
    }


class UserProjects:
    """Each primary user's project, rendered, installed and committed once per session."""

    def __init__(self, render: Callable[..., GeneratedProject]) -> None:
        self._render = render
        self._built: dict[tuple[str, str], GeneratedProject] = {}
        self._checked: set[tuple[str, str]] = set()

    def built(self, user: str, problem_type: str, stage: str) -> GeneratedProject:
        key = (user, problem_type)
        if key not in self._built:
            project = self._render(
                fresh=True,
                primary_user=user,
                problem_type=problem_type,
                maturity_stage=stage,
                team_size="solo",
                description=DESCRIPTION,
            )
            self._built[key] = project.set_up()
        return self._built[key]

    def checked(self, user: str, problem_type: str, stage: str) -> GeneratedProject:
        """Built, then its own `make check` passed once."""
        project = self.built(user, problem_type, stage)
        if (user, problem_type) not in self._checked:
            project.make("check")
            self._checked.add((user, problem_type))
        return project


@pytest.fixture(scope="session")
def user_projects(render: Callable[..., GeneratedProject]) -> UserProjects:
    return UserProjects(render)


def engineer_params(*problem_types: str) -> list[Any]:
    return [
        pytest.param(t, id=t, marks=pytest.mark.xdist_group(f"software-engineer-{t}"))
        for t in problem_types
    ]


# --------------------------------------------------------------------------------------
# Software engineer
# --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("problem_type", engineer_params("classification", "forecasting"))
def test_software_engineer_project_passes_its_own_checks(
    user_projects: UserProjects, problem_type: str
) -> None:
    """`make check`: lint, types (strict, the client included) and tests, among them the
    stale-document test and the client's calls to the running service. It leaves the
    committed files as they are."""
    project = user_projects.checked(SOFTWARE_ENGINEER, problem_type, "deploy")
    assert project.git("status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.slow
@pytest.mark.parametrize("problem_type", engineer_params("classification", "forecasting"))
def test_make_api_client_writes_what_is_committed(
    user_projects: UserProjects, problem_type: str
) -> None:
    """The command that refreshes the document and the client's models, run on a fresh
    project, changes neither: the stored models are the pinned generator's output."""
    project = user_projects.checked(SOFTWARE_ENGINEER, problem_type, "deploy")
    project.make("api-client")
    assert project.git("status", "--porcelain", "--untracked-files=no") == ""


@pytest.mark.slow
@pytest.mark.parametrize("problem_type", engineer_params("classification"))
def test_the_serving_image_builds_without_the_client(
    user_projects: UserProjects, problem_type: str, tmp_path: Path
) -> None:
    """The Dockerfile, replayed: its `uv sync` lines check the lock of a workspace that has
    the client, and install the service but nothing of the client."""
    project = user_projects.checked(SOFTWARE_ENGINEER, problem_type, "deploy")
    for step in ("train", "promote", "export-model"):
        project.make(step)
    replay = DockerReplay(context=project.path, root=tmp_path / "image")
    replay.replay()
    env = replay.runtime_env()
    workdir = replay.runtime_workdir()
    run(["python", "-c", f"import {project.package}.serving.app"], workdir, env=env)
    missing = run(["python", "-c", f"import {project.package}_client"], workdir, env, check=False)
    assert "ModuleNotFoundError" in missing.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "problem_type", engineer_params("classification", "regression", "forecasting")
)
def test_committed_openapi_document_is_what_the_service_says(
    user_projects: UserProjects, problem_type: str
) -> None:
    """The document the template stores for the problem type, rendered with the answers,
    is byte for byte what the project's service writes, so a fresh project's stale-schema
    test passes. When it is not: `uv run python scripts/api_documents.py`."""
    project = user_projects.built(SOFTWARE_ENGINEER, problem_type, "deploy")
    module = f"{project.package}.serving.openapi_document"
    written = project.uv("run", "--frozen", "python", "-m", module).stdout
    committed = (project.path / "api" / "openapi.json").read_text(encoding="utf-8")
    assert committed == written, "run `uv run python scripts/api_documents.py`"
    info = json.loads(committed)["info"]
    assert info["description"] == DESCRIPTION
    assert info["title"] == f"{project.answers['project_name']} prediction API"


@pytest.mark.slow
@pytest.mark.parametrize("problem_type", engineer_params("classification"))
def test_software_engineer_readme_opens_with_calling_the_model(
    user_projects: UserProjects, problem_type: str
) -> None:
    """The first section says how to call the model, with the example the tests run."""
    project = user_projects.built(SOFTWARE_ENGINEER, problem_type, "deploy")
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", readme, flags=re.MULTILINE)
    assert headings[0] == "Call the model from your app"
    opening = readme.split("\n## ")[1]
    example = (project.path / "client" / "example.py").read_text(encoding="utf-8")
    assert f"```python\n{example}```" in opening, "the README shows client/example.py as is"
    assert 5 <= len([line for line in example.splitlines() if line.strip()]) <= 16


@pytest.mark.slow
@pytest.mark.parametrize("problem_type", engineer_params("classification"))
def test_the_client_installs_without_the_training_stack(
    user_projects: UserProjects, problem_type: str
) -> None:
    """client/ builds into a wheel of its own that needs httpx2 and pydantic only."""
    project = user_projects.built(SOFTWARE_ENGINEER, problem_type, "deploy")
    dist = project.path / "build" / "client-dist"
    project.uv("build", "--quiet", "--wheel", "--out-dir", str(dist), "client")
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = archive.read(name).decode()
    requires = re.findall(r"^Requires-Dist: ([A-Za-z0-9_.-]+)", metadata, flags=re.MULTILINE)
    assert sorted(requires) == ["httpx2", "pydantic"]


# --------------------------------------------------------------------------------------
# Data scientist
# --------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.xdist_group("data-scientist")
def test_data_scientist_notebook_runs_top_to_bottom(
    user_projects: UserProjects, tmp_path: Path
) -> None:
    """Every code cell runs, in order, in a kernel of the project's own environment; the
    git hook strips the notebook it leaves back to the committed one, byte for byte."""
    project = user_projects.built(DATA_SCIENTIST, "classification", "explore")
    executed = tmp_path / "explore.ipynb"
    script = ("run", "--frozen", "python", "-c", EXECUTE_NOTEBOOK, str(executed))
    ran = json.loads(project.uv(*script).stdout)
    assert ran, "the notebook has code cells"
    assert [count for count, _ in ran] == list(range(1, len(ran) + 1))
    assert all("error" not in outputs for _, outputs in ran)
    assert any(outputs for _, outputs in ran), "the notebook shows something"
    committed = (project.path / NOTEBOOK).read_text(encoding="utf-8")
    assert executed.read_text(encoding="utf-8") != committed
    run([*strip_hook(project), str(executed)], project.path, env=project.env())
    assert executed.read_text(encoding="utf-8") == committed


@pytest.mark.slow
@pytest.mark.xdist_group("data-scientist")
def test_data_scientist_notebook_is_committed_without_outputs(
    user_projects: UserProjects,
) -> None:
    """The git hook's own command, asked to verify, would change nothing in the committed
    notebook; and none of its code cells has an output or an execution count."""
    project = user_projects.built(DATA_SCIENTIST, "classification", "explore")
    run([*strip_hook(project), "--verify", NOTEBOOK], project.path, env=project.env())
    notebook = json.loads((project.path / NOTEBOOK).read_text(encoding="utf-8"))
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code
    assert all(cell["outputs"] == [] and cell["execution_count"] is None for cell in code)


@pytest.mark.slow
@pytest.mark.xdist_group("data-scientist")
def test_data_scientist_project_passes_its_own_checks(user_projects: UserProjects) -> None:
    """ruff formats and lints the notebook, and the project's tests run it too."""
    user_projects.checked(DATA_SCIENTIST, "classification", "explore")


# --------------------------------------------------------------------------------------
# ML engineer, and who gets what
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_ml_engineer_projects_get_none_of_it(
    render: Callable[..., GeneratedProject], stage: str
) -> None:
    """The default user's project has no file the other users' components claim (no
    notebooks/, no client/, no api/), no client in its environment, and its README opens
    as it always has."""
    project = render(maturity_stage=stage, team_size=TEAM_SIZES[-1])
    assert project.answers["primary_user"] == LADDER.defaults["primary_user"] == "ml_engineer"
    theirs = owned_by(SOFTWARE_ENGINEER, DATA_SCIENTIST)
    assert theirs, "components.yml gives the other users components of their own"
    claimed = {path for path in project.files() if set(LADDER.claimants(path)) & theirs}
    assert claimed == set()
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    assert "Call the model from your app" not in readme
    assert "## Notebooks" not in readme
    assert "workspace" not in project.pyproject["tool"]["uv"]


def test_every_image_has_the_workspace_the_lock_was_written_for(
    render: Callable[..., GeneratedProject],
) -> None:
    """`uv sync --locked` checks the lock against every workspace member's metadata, so
    each image's builder copies every member's pyproject.toml before its first sync: the
    serving image and, at the last stage, the ops image alike."""
    project = render(
        maturity_stage=STAGES[-1], team_size=TEAM_SIZES[0], primary_user=SOFTWARE_ENGINEER
    )
    members = project.pyproject["tool"]["uv"]["workspace"]["members"]
    assert members
    syncing = []
    for dockerfile in sorted(project.path.glob("**/Dockerfile")):
        copied: list[str] = []
        for instruction in parse_dockerfile(dockerfile.read_text(encoding="utf-8"))[0].instructions:
            if instruction.keyword == "COPY" and not instruction.args.startswith("--from"):
                copied += instruction.args.split()[:-1]
            if instruction.keyword == "RUN" and "uv sync" in instruction.args:
                syncing.append(dockerfile.relative_to(project.path).as_posix())
                for member in members:
                    assert f"{member}/pyproject.toml" in copied, dockerfile
                break
    assert syncing == ["Dockerfile", "ops/Dockerfile"]
