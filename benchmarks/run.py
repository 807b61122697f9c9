"""Benchmarks for copier-mlops, each measured against a baseline in the same run.

1. Render time of the deploy stage against a one-file Copier template (Copier's floor).
2. Time from `copier copy` to the first successful /predict (warm uv cache; --cold also
   measures with an empty cache, which downloads every package), beside the floor the
   stack sets for it: installing, compiling bytecode, creating the tracking store and
   the library imports of each of the three processes (train, promote, serve).
3. /predict throughput and p99 latency of the generated service against a bare FastAPI
   endpoint calling the same model, same server settings, same load (127.0.0.1 only,
   bounded request count).
4. Size of the serving image's dependency set: the environment the Dockerfile's runtime
   stage installs, replayed outside Docker.

Usage: uv run python benchmarks/run.py [--cold] [--requests N] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import copier
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from generated_project import (  # noqa: E402  (tests/ is not a package)
    clean_env,
    dockerfile_cmd,
    dockerfile_env,
    dockerfile_sync_commands,
    free_port,
    parse_dockerfile,
    serve,
    uv_executable,
)
from generated_project import run as run_command  # noqa: E402

UV = uv_executable()
ANSWERS = {"maturity_stage": "deploy", "team_size": "solo", "project_name": "Bench Model"}
PACKAGE = "bench_model"
SLUG = "bench-model"


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a command in a generated project's environment; fail with its output."""
    run_command(cmd, cwd, env=clean_env(env))


def example_records(url: str, count: int) -> list[dict[str, float]]:
    """`count` records built from the request example the service documents for /predict."""
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    schema = spec["components"]["schemas"]["PredictionRequest"]
    records: list[dict[str, float]] = schema["examples"][0]["records"]
    return (records * count)[:count]


@contextmanager
def server(cmd: list[str], cwd: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    """A server on 127.0.0.1:`port`, ready once /health answers; stopped afterwards."""
    url = f"http://127.0.0.1:{port}"
    with serve(cmd, cwd, clean_env(env), f"{url}/openapi.json"):
        yield url


# 1. Render time ---------------------------------------------------------------------


def _git_template(where: Path, files: dict[str, bytes]) -> Path:
    """A template repository holding `files` and a copier.yml with one question."""
    for name, content in files.items():
        (where / name).parent.mkdir(parents=True, exist_ok=True)
        (where / name).write_bytes(content)
    (where / "copier.yml").write_text("name:\n  type: str\n  default: floor\n")
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        ["git", "-c", "user.name=b", "-c", "user.email=b@b.invalid", "commit", "-qm", "floor"],
    ):
        run(cmd, where)
    return where


def bench_render(tmp: Path, repeats: int = 7) -> dict[str, Any]:
    """Median render times of the deploy stage and two floors, interleaved.

    `floor` is a one-file template: Copier's fixed cost. `same_files` is a plain template
    holding the deploy stage's rendered files verbatim: Copier's cost for that many files
    (it runs a git subprocess and compiles each path as Jinja per file), so the difference
    to it is what this template's questions, validators and Jinja add.
    """
    ours = tmp / "template-clone"
    run(["git", "clone", "-q", str(ROOT), str(ours)], tmp)
    rendered = tmp / "rendered"
    copier.run_copy(str(ours), rendered, data=ANSWERS, defaults=True, quiet=True, vcs_ref="HEAD")
    files = {
        p.relative_to(rendered).as_posix(): p.read_bytes()
        for p in rendered.rglob("*")
        if p.is_file() and p.name != ".copier-answers.yml"
    }
    sources = {
        "floor": (_git_template(tmp / "floor", {"README.md.jinja": b"# {{ name }}\n"}), {}),
        "same_files": (_git_template(tmp / "same-files", files), {}),
        "deploy": (ours, ANSWERS),
    }
    times: dict[str, list[float]] = {name: [] for name in sources}
    for i in range(repeats + 1):  # the first round warms imports and caches
        for name, (src, data) in sources.items():
            dst = tmp / f"render-{name}-{i}"
            start = time.perf_counter()
            copier.run_copy(
                str(src), dst, data=data, defaults=True, unsafe=False, quiet=True, vcs_ref="HEAD"
            )
            if i:
                times[name].append(time.perf_counter() - start)
    medians = {f"{name}_s": statistics.median(values) for name, values in times.items()}
    return {
        **medians,
        "files": len(files),
        "ratio": medians["deploy_s"] / medians["floor_s"],
        "ratio_same_files": medians["deploy_s"] / medians["same_files_s"],
    }


# 2. Time to first prediction ---------------------------------------------------------


def bench_first_prediction(tmp: Path, cache: Path | None) -> tuple[dict[str, Any], Path]:
    env = {"UV_CACHE_DIR": str(cache)} if cache else {}
    project = tmp / ("first-prediction-cold" if cache else "first-prediction")
    steps: dict[str, float] = {}
    start = last = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        steps[name] = now - last
        last = now

    copier.run_copy(
        str(ROOT), project, data=ANSWERS, defaults=True, unsafe=False, quiet=True, vcs_ref="HEAD"
    )
    lap("copier copy")
    # The commands the generated README gives a newcomer.
    run(["make", "setup"], project, env)
    lap("make setup")
    run(["make", "train"], project, env)
    lap("make train")
    run(["make", "promote"], project, env)
    lap("make promote")
    port = free_port()
    cmd = [UV, "run", "--no-sync", SLUG, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with server(cmd, project, port, env) as url:
        body = {"records": example_records(url, 1)}
        response = httpx.post(f"{url}/predict", json=body, timeout=30)
        response.raise_for_status()
        lap("serve + first /predict")
    return {"total_s": time.perf_counter() - start, "steps": steps}, project


# The libraries each step of the first-prediction path imports, in a fresh process; the
# first import of each module also compiles it to bytecode.
STEP_IMPORTS = {
    "train": "mlflow.sklearn, skops.io, pandera.pandas",
    "promote": "mlflow",
    "serve": "mlflow.sklearn, skops.io, fastapi, uvicorn",
}
# Times, inside one interpreter, creating a new SQLite tracking store after a first store
# has already paid for importing SQLAlchemy and the schema migrations.
STORE_SNIPPET = """
import sys, time
from mlflow import MlflowClient
MlflowClient(tracking_uri=sys.argv[1]).search_experiments()
start = time.perf_counter()
MlflowClient(tracking_uri=sys.argv[2]).search_experiments()
print(time.perf_counter() - start)
"""


def _timed_import(python: str, modules: str, cwd: Path) -> float:
    snippet = (
        f"import time; t = time.perf_counter(); import {modules}; print(time.perf_counter() - t)"
    )
    return float(run_command([python, "-c", snippet], cwd, env=clean_env()).stdout)


def bench_prediction_floor(project: Path, setup_s: float) -> dict[str, float]:
    """The part of copy-to-prediction the stack costs whatever the template's code does.

    Measured in the generated project's environment, on top of `make setup`'s install:
    compiling the libraries' bytecode on first import (a cold import of all of them minus
    a warm one), creating the SQLite tracking store, and the warm imports of each step.
    """
    python = str(project / ".venv" / "bin" / "python")
    for cache in (project / ".venv").rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    every_library = ", ".join(STEP_IMPORTS.values())
    cold = _timed_import(python, every_library, project)
    warm = _timed_import(python, every_library, project)
    stores = [f"sqlite:///{project / name}" for name in ("floor-a.db", "floor-b.db")]
    store_cmd = [python, "-c", STORE_SNIPPET, *stores]
    floor = {
        "setup_s": setup_s,
        "compile_s": cold - warm,
        "store_s": float(run_command(store_cmd, project, env=clean_env()).stdout),
        **{
            f"{step}_imports_s": _timed_import(python, modules, project)
            for step, modules in STEP_IMPORTS.items()
        },
    }
    return {**floor, "total_s": sum(floor.values())}


# 3. Serving throughput ----------------------------------------------------------------

BARE_APP = textwrap.dedent(
    """
    import os

    import mlflow.sklearn
    import pandas as pd
    from fastapi import FastAPI

    model = mlflow.sklearn.load_model(os.environ["BARE_MODEL_DIR"])
    app = FastAPI()


    @app.post("/predict")
    def predict(body: dict[str, list[dict[str, float]]]) -> dict[str, list[int]]:
        frame = pd.DataFrame(body["records"])[list(model.feature_names_in_)]
        return {"predictions": model.predict(frame).tolist()}
    """
)


async def _load(url: str, body: dict[str, Any], requests: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(range(requests))

    async def worker(client: httpx.AsyncClient) -> None:
        for _ in queue:
            start = time.perf_counter()
            response = await client.post(f"{url}/predict", json=body)
            latencies.append(time.perf_counter() - start)
            response.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def _measure(url: str, body: dict[str, Any], requests: int, concurrency: int) -> dict[str, float]:
    asyncio.run(_load(url, body, requests // 10, concurrency))  # warm-up
    start = time.perf_counter()
    latencies = sorted(asyncio.run(_load(url, body, requests, concurrency)))
    elapsed = time.perf_counter() - start
    return {"rps": requests / elapsed, "p99_ms": 1000 * latencies[int(0.99 * len(latencies)) - 1]}


def bench_throughput(project: Path, requests: int, concurrency: int = 8) -> dict[str, Any]:
    run([UV, "run", "--no-sync", SLUG, "export-model"], project)
    model_dir = project / "build" / "model"
    (project / "bare_app.py").write_text(BARE_APP)
    python = str(project / ".venv" / "bin" / "python")
    prefix = PACKAGE.upper()
    generated_env = {
        f"{prefix}_MODEL_URI": str(model_dir),
        f"{prefix}_PREDICTION_LOG_PATH": str(project / "bench-predictions.jsonl"),
    }
    results: dict[str, list[dict[str, float]]] = {"bare": [], "generated": []}
    body: dict[str, Any] = {}
    for _ in range(2):  # alternate to spread the machine's drift over both
        for name in ("generated", "bare"):
            port = free_port()
            target = [f"{PACKAGE}.serving.app:create_app", "--factory"]
            if name == "bare":
                target = ["bare_app:app"]
            cmd = [
                python,
                "-m",
                "uvicorn",
                *target,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ]
            env = {"BARE_MODEL_DIR": str(model_dir)} if name == "bare" else generated_env
            with server(cmd, project, port, env) as url:
                if name == "generated":
                    body = {"records": example_records(url, 1)}
                results[name].append(_measure(url, body, requests, concurrency))
    best = {
        name: {"rps": max(r["rps"] for r in runs), "p99_ms": min(r["p99_ms"] for r in runs)}
        for name, runs in results.items()
    }
    return {
        **best,
        "rps_ratio": best["generated"]["rps"] / best["bare"]["rps"],
        "p99_ratio": best["generated"]["p99_ms"] / best["bare"]["p99_ms"],
        "requests": requests,
        "concurrency": concurrency,
    }


# 4. Serving image dependency size ------------------------------------------------------


def _size_mb(path: Path) -> float:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def bench_image_size(project: Path) -> dict[str, Any]:
    dockerfile = (project / "Dockerfile").read_text()
    runtime_env = project.parent / "runtime-venv"
    env = {"UV_PROJECT_ENVIRONMENT": str(runtime_env), **dockerfile_env(dockerfile)}
    for command in dockerfile_sync_commands(dockerfile):
        run(command, project, env)
    # The runtime stage compiles bytecode for what the service imports: count that too.
    for instruction in parse_dockerfile(dockerfile)[-1].instructions:
        if instruction.keyword == "RUN" and instruction.args.startswith("/app/.venv/"):
            command = shlex.split(instruction.args.replace("/app/.venv", str(runtime_env)))
            run(command, project)
    assert dockerfile_cmd(dockerfile)[0] == "uvicorn"
    return {"runtime_mb": _size_mb(runtime_env), "dev_env_mb": _size_mb(project / ".venv")}


# ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also measure with an empty uv cache")
    parser.add_argument("--requests", type=int, default=2000, help="requests per load run")
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        results["render"] = bench_render(tmp)
        results["first_prediction_warm"], project = bench_first_prediction(tmp, cache=None)
        setup_s = results["first_prediction_warm"]["steps"]["make setup"]
        results["first_prediction_floor"] = bench_prediction_floor(project, setup_s)
        if args.cold:
            results["first_prediction_cold"], _ = bench_first_prediction(
                tmp, cache=tmp / "uv-cache"
            )
        results["throughput"] = bench_throughput(project, args.requests)
        results["image"] = bench_image_size(project)
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def report(results: dict[str, Any]) -> str:
    r, t, i = results["render"], results["throughput"], results["image"]
    warm, floor = results["first_prediction_warm"], results["first_prediction_floor"]
    rows = [
        (
            "render deploy vs one-file template",
            f"{r['deploy_s'] * 1000:.0f} ms vs {r['floor_s'] * 1000:.0f} ms",
            f"{r['ratio']:.2f}x",
            "<= 1.5x",
        ),
        (
            f"render deploy vs plain template of the same {r['files']} files",
            f"{r['deploy_s'] * 1000:.0f} ms vs {r['same_files_s'] * 1000:.0f} ms",
            f"{r['ratio_same_files']:.2f}x",
            "report",
        ),
        ("copier copy -> first /predict (warm cache)", f"{warm['total_s']:.1f} s", "", "<= 20 s"),
        (
            "  of which the stack's floor (install, bytecode, store, imports)",
            f"{floor['total_s']:.1f} s",
            f"{floor['total_s'] / warm['total_s']:.0%}",
            "report",
        ),
    ]
    if "first_prediction_cold" in results:
        cold = results["first_prediction_cold"]
        rows.append(
            ("copier copy -> first /predict (cold cache)", f"{cold['total_s']:.1f} s", "", "report")
        )
    rows += [
        (
            "/predict throughput, generated vs bare",
            f"{t['generated']['rps']:.0f} vs {t['bare']['rps']:.0f} req/s",
            f"{t['rps_ratio']:.2f}x",
            ">= 0.8x",
        ),
        (
            "/predict p99, generated vs bare",
            f"{t['generated']['p99_ms']:.1f} vs {t['bare']['p99_ms']:.1f} ms",
            f"{t['p99_ratio']:.2f}x",
            "<= 1.2x",
        ),
        (
            "serving dependency set (runtime venv)",
            f"{i['runtime_mb']:.0f} MB",
            f"dev env {i['dev_env_mb']:.0f} MB",
            "<= 400 MB",
        ),
    ]
    lines = ["| measure | value | ratio / note | target |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in warm["steps"].items())
    floors = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in floor.items())
    return "\n".join(lines) + f"\n\nWarm steps: {steps}\nFloor: {floors}\n"


if __name__ == "__main__":
    sys.exit(main())
