"""The README's "Train on your own data" guide, followed to the letter.

For each problem type, a deploy project gets a different dataset (other columns, other
rows) by changing only the definitions the guide names: the data contract in schema.py
and the loader in data.py. Nothing else is edited (`make format` may reflow what was
written). The project must still pass its own checks, train, promote, serve the new
request schema and describe the new data on its model card.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from copier_mlops.processes import GIT_ENV, free_port, run, serve
from copier_mlops.service import load_service

from helpers.generated_project import GeneratedProject

pytestmark = pytest.mark.slow


# Summary statistics of a scikit-learn dataset, computed in the generated project's own
# environment (scikit-learn is the project's dependency, not this repository's).
_STATS = """
import json, sys
from sklearn import datasets
frame = getattr(datasets, sys.argv[1])(as_frame=True).frame.drop(columns="target")
print(json.dumps({c: [frame[c].min(), frame[c].max(), frame[c].median()] for c in frame}))
"""


def _breast_cancer_contract(project: GeneratedProject) -> dict[str, str]:
    """scikit-learn's breast cancer data (569 tumours, 30 measurements, benign or not)."""
    stats = json.loads(project.uv("run", "python", "-c", _STATS, "load_breast_cancer").stdout)
    features = []
    for column, (low, high, median) in stats.items():
        margin = (high - low) / 2
        features.append(
            f"    Feature({_snake(column)!r}, {column.capitalize()!r}, "
            f"{max(0.0, round(low - margin, 4))}, {round(high + margin, 4)}, {round(median, 4)}),"
        )
    return {
        "FEATURES": "FEATURES: tuple[Feature, ...] = (\n" + "\n".join(features) + "\n)",
        "TARGET_COLUMN": 'TARGET_COLUMN = "malignant"',
        "TARGET_DESCRIPTION": 'TARGET_DESCRIPTION = "1 if the tumour is benign, 0 if malignant"',
        "CLASSES": "CLASSES: tuple[int, ...] = (0, 1)",
    }


BREAST_CANCER_LOADER = {
    "DATASET_NAME": 'DATASET_NAME = "sklearn-breast-cancer"',
    "load_dataset": '''def load_dataset() -> pd.DataFrame:
    """Return the breast cancer dataset, validated: one row per tumour."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [
        TARGET_COLUMN if column == "target" else column.replace(" ", "_")
        for column in frame.columns
    ]
    return validate_dataset(frame)''',
}


# NOAA's monthly sea-surface temperature in the Pacific's El Nino region, 1950 to 2010
# (public domain, as statsmodels ships it): another series, another unit, no gaps.
ELNINO_CSV = Path(__file__).parent / "data" / "elnino_monthly.csv"
ELNINO = {
    "schema.py": {
        "TARGET_COLUMN": 'TARGET_COLUMN = "sea_surface_temperature"',
        "TARGET_DESCRIPTION": (
            'TARGET_DESCRIPTION = "Sea-surface temperature in the El Nino region, in degrees C"'
        ),
        "TARGET_MINIMUM": "TARGET_MINIMUM = 10.0",
        "TARGET_MAXIMUM": "TARGET_MAXIMUM = 35.0",
    },
    "data.py": {
        "DATASET_NAME": 'DATASET_NAME = "noaa-elnino-sst-monthly"',
        "load_dataset": '''def load_dataset() -> pd.DataFrame:
    """Return NOAA's monthly sea-surface temperatures, validated: a row per month."""
    from pathlib import Path

    project = Path(__file__).resolve().parents[2]
    frame = pd.read_csv(project / "data" / "elnino_monthly.csv", dtype={MONTH_COLUMN: str})
    return validate_dataset(fill_gaps(frame))''',
    },
}


# Engel's food expenditure data (235 Belgian working-class households, 1857; public
# domain, as statsmodels ships it): one feature, another target, another scale.
ENGEL_CSV = Path(__file__).parent / "data" / "engel.csv"
ENGEL = {
    "schema.py": {
        "FEATURES": "FEATURES: tuple[Feature, ...] = (\n"
        '    Feature("income", "Household income (Belgian francs a year)", 0.0, 10000.0, 884.0),'
        "\n)",
        "TARGET_COLUMN": 'TARGET_COLUMN = "food_expenditure"',
        "TARGET_DESCRIPTION": 'TARGET_DESCRIPTION = "Food expenditure (Belgian francs a year)"',
        "TARGET_MINIMUM": "TARGET_MINIMUM = 0.0",
        "TARGET_MAXIMUM": "TARGET_MAXIMUM = 5000.0",
    },
    "data.py": {
        "DATASET_NAME": 'DATASET_NAME = "engel-food-expenditure"',
        "load_dataset": '''def load_dataset() -> pd.DataFrame:
    """Return Engel's household budgets, validated: one row per household."""
    from pathlib import Path

    project = Path(__file__).resolve().parents[2]
    return validate_dataset(pd.read_csv(project / "data" / "engel.csv"))''',
    },
}


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# problem type -> (file -> (definition -> new source), the dataset's name, data files to
# add). No settings change: every gate's defaults are free of the target's scale.
OwnData = tuple[Callable[[GeneratedProject], dict[str, dict[str, str]]], str, dict[str, Path]]
OWN_DATA: dict[str, OwnData] = {
    "classification": (
        lambda project: {
            "schema.py": _breast_cancer_contract(project),
            "data.py": BREAST_CANCER_LOADER,
        },
        "sklearn-breast-cancer",
        {},
    ),
    "regression": (
        lambda project: ENGEL,
        "engel-food-expenditure",
        {"data/engel.csv": ENGEL_CSV},
    ),
    "forecasting": (
        lambda project: ELNINO,
        "noaa-elnino-sst-monthly",
        {"data/elnino_monthly.csv": ELNINO_CSV},
    ),
}


def replace_definitions(path: Path, definitions: dict[str, str]) -> None:
    """Replace each named top-level assignment or function of a module with new source."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    spans = {}
    for node in ast.parse(text).body:
        name = None
        if isinstance(node, ast.FunctionDef):
            name = node.name
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name = node.target.id
        if name in definitions:
            spans[name] = (node.lineno - 1, node.end_lineno or node.lineno)
    missing = set(definitions) - set(spans)
    assert not missing, f"{path.name} has no {sorted(missing)}, which the guide names"
    for name, (start, end) in sorted(spans.items(), key=lambda item: -item[1][0]):
        lines[start:end] = [definitions[name] + "\n"]
    path.write_text("".join(lines), encoding="utf-8")


@pytest.mark.parametrize("problem_type", sorted(OWN_DATA))
def test_the_guide_trains_and_serves_a_different_dataset(
    render: Callable[..., GeneratedProject], problem_type: str
) -> None:
    project = render(
        fresh=True, problem_type=problem_type, maturity_stage="deploy", team_size="solo"
    )
    readme = (project.path / "README.md").read_text(encoding="utf-8")
    assert "Train on your own data" in readme
    make_edits, dataset_name, data_files = OWN_DATA[problem_type]
    package = project.path / "src" / project.package

    project.uv("sync", "--quiet")
    env = {**project.env(), **GIT_ENV}
    run(["git", "init", "-q", "-b", "main"], project.path, env=env)
    run(["git", "add", "-A"], project.path, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", "Generate"], project.path, env=env)

    for target, source in data_files.items():
        shutil.copyfile(source, project.path / target)
    edits = make_edits(project)
    for module, definitions in edits.items():
        assert f"`src/{project.package}/{module}`" in readme, f"the guide must name {module}"
        replace_definitions(package / module, definitions)
    project.make("format")
    changed = project.git("status", "--porcelain").splitlines()
    assert sorted(line[3:] for line in changed if line.startswith(" M")) == sorted(
        f"src/{project.package}/{module}" for module in edits
    ), "following the guide must edit its two files and nothing else"
    assert sorted(line[3:] for line in changed if not line.startswith(" M")) == sorted(
        data_files
    ), "only the data files were added"
    run(["git", "add", "-A"], project.path, env=env)
    run(["git", "commit", "-q", "--no-verify", "-m", "Own data"], project.path, env=env)
    project.make("check")
    project.make("train", "promote")
    card = (project.path / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert dataset_name in card, "the model card must describe the new data"

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = ["uv", "run", "--locked", project.slug, "serve", "--port", str(port)]
    with serve(cmd, project.path, project.env(), url + load_service().paths["health"]):
        project.make("smoke-test", f"URL={url}")
        openapi = httpx.get(f"{url}/openapi.json", timeout=10).json()
    request_schema = json.dumps(openapi["components"]["schemas"])
    for name in re.findall(
        r"Feature\([\"']([a-z0-9_]+)[\"']", edits["schema.py"].get("FEATURES", "")
    ):
        assert name in request_schema, f"the API's request schema lacks {name}"
