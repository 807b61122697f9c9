"""Benchmarks for copier-mlops, each measured against a baseline in the same run.

1. Render time of the deploy stage against a one-file Copier template (Copier's floor).
2. Time from `copier copy` to the first successful /predict (warm uv cache; --cold also
   measures with an empty cache, which downloads every package), beside the floor the
   stack sets for it: installing, compiling bytecode, creating the tracking store and
   the library imports of each of the three processes (train, promote, serve).
3. /predict throughput and p99 latency of the generated service against the fastest
   honest FastAPI endpoint for the same model, both started by the image's own command
   in its environment (the Dockerfile replayed), driven by wrk on 127.0.0.1 from the
   other CPU core, for one record and 100 records per request; throughput with one and
   two uvicorn workers; /health latency while clients send oversized bodies.
4. Size of the serving image's dependency set: the environment the Dockerfile's runtime
   stage installs, replayed outside Docker.

Needs wrk and taskset (Debian: `apt-get install wrk util-linux`) and two CPU cores.

Usage: uv run python benchmarks/run.py [--cold] [--seconds S] [--rounds N] [--json PATH]
                                       [--problem-type TYPE]  # default: classification
       uv run python benchmarks/run.py --serving PROJECT   # part 3 only, on a project
                                                           # that has exported its model
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import httpx
import yaml

from copier_mlops.config import choice_values, load_copier_config
from copier_mlops.docker_replay import (
    DockerReplay,
    dockerfile_cmd,
    dockerfile_env,
    dockerfile_sync_commands,
    parse_dockerfile,
)
from copier_mlops.processes import clean_env, free_port, serve, uv_executable
from copier_mlops.processes import run as run_command

ROOT = Path(__file__).resolve().parent.parent

UV = uv_executable()
ANSWERS = {"maturity_stage": "deploy", "team_size": "solo", "project_name": "Bench Model"}
PROBLEM_TYPE = load_copier_config(ROOT)["problem_type"]
PACKAGE = "bench_model"
SLUG = "bench-model"


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a command in a generated project's environment; fail with its output."""
    run_command(cmd, cwd, env=clean_env(env))


def documented_example(url: str) -> dict[str, Any]:
    """The request example the service documents for /predict."""
    spec = httpx.get(f"{url}/openapi.json", timeout=10).json()
    example: dict[str, Any] = spec["components"]["schemas"]["PredictionRequest"]["examples"][0]
    return example


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


def bench_render(tmp: Path, answers: dict[str, str], repeats: int = 7) -> dict[str, Any]:
    """Median render times of the deploy stage and two floors, interleaved.

    `floor` is a one-file template: Copier's fixed cost. `same_files` is a plain template
    holding the deploy stage's rendered files verbatim: Copier's cost for that many files
    (it runs a git subprocess and compiles each path as Jinja per file), so the difference
    to it is what this template's questions, validators and Jinja add.
    """
    ours = tmp / "template-clone"
    run(["git", "clone", "-q", str(ROOT), str(ours)], tmp)
    rendered = tmp / "rendered"
    copier.run_copy(str(ours), rendered, data=answers, defaults=True, quiet=True, vcs_ref="HEAD")
    files = {
        p.relative_to(rendered).as_posix(): p.read_bytes()
        for p in rendered.rglob("*")
        if p.is_file() and p.name != ".copier-answers.yml"
    }
    sources = {
        "floor": (_git_template(tmp / "floor", {"README.md.jinja": b"# {{ name }}\n"}), {}),
        "same_files": (_git_template(tmp / "same-files", files), {}),
        "deploy": (ours, answers),
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


class Stopwatch:
    """Times the steps of a path, each from the end of the one before."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = now - self._last
        self._last = now

    def total(self) -> float:
        return time.perf_counter() - self._start


def bench_first_prediction(
    tmp: Path, cache: Path | None, answers: dict[str, str]
) -> tuple[dict[str, Any], Path]:
    env = {"UV_CACHE_DIR": str(cache)} if cache else {}
    project = tmp / ("first-prediction-cold" if cache else "first-prediction")
    watch = Stopwatch()
    lap = watch.lap

    copier.run_copy(
        str(ROOT), project, data=answers, defaults=True, unsafe=False, quiet=True, vcs_ref="HEAD"
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
        response = httpx.post(f"{url}/predict", json=documented_example(url), timeout=30)
        response.raise_for_status()
        lap("serve + first /predict")
    return {"total_s": watch.total(), "steps": watch.steps}, project


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


# 3. Serving: throughput and p99 against the fastest honest endpoint, and /health under abuse

# The baseline: the fastest honest FastAPI endpoint for the same job. It loads the model
# folder the image serves, takes the same JSON request and returns the same fields,
# parsing and writing JSON with pydantic-core (which every FastAPI install has, and which
# beats the `json` module). It validates nothing, counts no metrics and logs no
# predictions: all of that is the generated service's overhead. How it reads a request
# and what it answers are the problem type's (BASELINE_ANSWERS).
BASELINE_MODULE = "bench_baseline"
BASELINE_APP = textwrap.dedent(
    """
    import gc
    import json
    import os
    from pathlib import Path

    import mlflow.sklearn
    import numpy as np
    from fastapi import FastAPI, Request, Response
    from pydantic_core import from_json, to_json

    ANSWERER

    def create_app() -> FastAPI:
        model_dir = Path(os.environ["MODEL_DIR_VARIABLE"])
        model = mlflow.sklearn.load_model(str(model_dir))
        version = json.loads((model_dir / "model_info.json").read_text())["version"]
        answer = answerer(model, version)
        app = FastAPI()
        gc.freeze()  # as the service does once its model is loaded

        @app.post("/predict")
        async def predict(request: Request) -> Response:
            body = from_json(await request.body())
            return Response(to_json(answer(body)), media_type="application/json")

        return app
    """
)
# A batch of records as the model's feature array, in its column order.
RECORDS_AS_FEATURES = textwrap.dedent(
    """
    def features_of(records, columns):
        values = (record[column] for record in records for column in columns)
        count = len(records) * len(columns)
        return np.fromiter(values, np.float64, count).reshape(-1, len(columns))
    """
)
# For each problem type, `answerer(model, version)`: the baseline's answer to a parsed
# request body, with the fields of the generated service's answer, from the model alone.
BASELINE_ANSWERS = {
    "classification": RECORDS_AS_FEATURES
    + textwrap.dedent(
        """
        def answerer(model, version):
            classes = model.classes_.tolist()
            columns = list(model.feature_names_in_)

            def answer(body):
                probabilities = model.predict_proba(features_of(body["records"], columns))
                labels = model.classes_[probabilities.argmax(axis=1)]
                return {
                    "predictions": labels.tolist(),
                    "probabilities": probabilities.tolist(),
                    "classes": classes,
                    "model_version": version,
                }

            return answer
        """
    ),
    "regression": RECORDS_AS_FEATURES
    + textwrap.dedent(
        """
        from PACKAGE.task import INTERVAL_COVERAGE, interval_half_width


        def answerer(model, version):
            half_width = interval_half_width(model)  # the same for every record: once
            columns = list(model.feature_names_in_)

            def answer(body):
                values = model.predict(features_of(body["records"], columns))
                return {
                    "predictions": values.tolist(),
                    "lower": (values - half_width).tolist(),
                    "upper": (values + half_width).tolist(),
                    "coverage": INTERVAL_COVERAGE,
                    "model_version": version,
                }

            return answer
        """
    ),
    "forecasting": textwrap.dedent(
        """
        def answerer(model, version):
            last_observed = model.last_month_

            def answer(body):
                horizon = body["horizon"]
                values = model.forecast(horizon).tolist()
                months = model.months_ahead(horizon)
                return {
                    "forecasts": [
                        {"month": month, "forecast": value}
                        for month, value in zip(months, values)
                    ],
                    "last_observed": last_observed,
                    "model_version": version,
                }

            return answer
        """
    ),
}

# wrk's Lua script: POSTs the file named after `--` (GETs without one) and prints the
# run's figures as one line of JSON.
WRK_SCRIPT = textwrap.dedent(
    """
    function init(args)
      if args[1] then
        local file = assert(io.open(args[1], "rb"))
        wrk.method = "POST"
        wrk.headers["Content-Type"] = "application/json"
        wrk.body = file:read("*a")
        file:close()
      end
    end

    function done(summary, latency, requests)
      local errors = summary.errors
      io.write(string.format(
        '{"requests": %d, "seconds": %f, "p50_ms": %f, "p99_ms": %f, "max_ms": %f, '
        .. '"non_2xx": %d, "socket_errors": %d}\\n',
        summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
        latency:percentile(99) / 1e3, latency.max / 1e3, errors.status,
        errors.connect + errors.read + errors.write + errors.timeout))
    end
    """
)
WRK_LOAD = ["-t1", "-c10"]  # one load-generating thread, ten connections
SERVER_CORE, CLIENT_CORE = "0", "1"


def pinned(core: str, cmd: list[str]) -> list[str]:
    """`cmd` run on one CPU core, so that server and load generator do not share one."""
    return ["taskset", "--cpu-list", core, *cmd]


def wrk(
    url: str, script: Path, seconds: int, body: Path | None = None, close: bool = False
) -> dict[str, float]:
    """wrk's figures for `seconds` of load; `close` opens a connection per request."""
    cmd = ["wrk", *WRK_LOAD, f"-d{seconds}s", "--timeout", "10s", "-s", str(script), url]
    if close:
        cmd[1:1] = ["-H", "Connection: close"]
    proc = run_command(pinned(CLIENT_CORE, [*cmd, *(["--", str(body)] if body else [])]), ROOT)
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["non_2xx"] == figures["socket_errors"] == 0, f"{url}: {figures}"
    figures["rps"] = figures["requests"] / figures["seconds"]
    return figures


@dataclass
class Image:
    """The serving image, replayed outside Docker: its environment, folder and CMD."""

    env: dict[str, str]
    workdir: Path
    cmd: list[str]
    package: str

    def setting(self, name: str) -> str:
        """The environment variable the service reads setting `name` from."""
        return f"{self.package.upper()}_{name.upper()}"

    def script(self, source: str) -> str:
        """`source` with PACKAGE standing for the project's package."""
        return source.replace("PACKAGE", self.package)

    def command(self, port: int, app: str | None = None, workers: int = 1) -> list[str]:
        """The image's CMD on 127.0.0.1:`port`, serving `app` (a factory) instead of ours."""
        cmd = list(self.cmd)
        for flag, value in (("--host", "127.0.0.1"), ("--port", str(port))):
            cmd[cmd.index(flag) + 1] = value
        if app:
            [ours] = [arg for arg in cmd if arg.endswith(":create_app")]
            cmd[cmd.index(ours)] = app
        executable = shutil.which(cmd[0], path=self.env["PATH"])
        assert executable, f"{cmd[0]} is not on the image's PATH"
        return [executable, *cmd[1:], *(["--workers", str(workers)] if workers > 1 else [])]


def answer(project: Path, question: str, default: str) -> str:
    """A generated project's answer to `question`, as its answers file records it."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
    return str(answers.get(question, default))


def problem_type(project: Path) -> str:
    """The problem type a generated project was made for."""
    return answer(project, "problem_type", PROBLEM_TYPE["default"])


def replay_image(project: Path, root: Path) -> Image:
    replay = DockerReplay(context=project, root=root)
    replay.replay()
    image = Image(
        env=replay.runtime_env(),
        workdir=replay.runtime_workdir(),
        cmd=dockerfile_cmd((project / "Dockerfile").read_text(encoding="utf-8")),
        package=answer(project, "package_name", PACKAGE),
    )
    answerer = image.script(BASELINE_ANSWERS[problem_type(project)])
    (image.workdir / f"{BASELINE_MODULE}.py").write_text(
        BASELINE_APP.replace("MODEL_DIR_VARIABLE", image.setting("model_dir")).replace(
            "ANSWERER", answerer
        )
    )
    return image


@contextmanager
def serving(image: Image, app: str | None = None, workers: int = 1) -> Iterator[str]:
    """The image's server on a free port, pinned to the server core for one worker."""
    port = free_port()
    cmd = image.command(port, app, workers)
    with server(pinned(SERVER_CORE, cmd) if workers == 1 else cmd, image.workdir, port, image.env):
        yield f"http://127.0.0.1:{port}"


# The request bodies of the benchmark, made by the generated project's own `sized_request`
# in the image's interpreter: one prediction, a batch of 100 (or the most the service
# allows, if fewer: a forecast's horizon), and an abusive body of at least ABUSE_BYTES,
# padded with JSON whitespace where the request itself is short.
ABUSE_SIZE, ABUSE_BYTES = 100_000, 25_000_000
BODIES = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from PACKAGE.config import get_settings
    from PACKAGE.request import request_limit, sized_request

    out = Path(sys.argv[1])
    sizes = sorted({1, min(100, request_limit(get_settings()))})
    for size in sizes:
        (out / f"body-{size}.json").write_text(json.dumps(sized_request(size)))
    abuse = json.dumps(sized_request(ABUSE_SIZE)).encode()
    padding = b" " * max(0, ABUSE_BYTES - len(abuse))
    (out / "abuse.json").write_bytes(abuse[:-1] + padding + abuse[-1:])
    print(json.dumps(sizes))
    """
)


@dataclass
class Bodies:
    """The benchmark's request bodies, by the number of predictions each asks for."""

    by_size: dict[int, Path]
    abuse: Path


def write_bodies(image: Image, tmp: Path) -> Bodies:
    script = tmp / "bodies.py"
    script.write_text(
        image.script(BODIES)
        .replace("ABUSE_SIZE", str(ABUSE_SIZE))
        .replace("ABUSE_BYTES", str(ABUSE_BYTES))
    )
    python = shutil.which("python", path=image.env["PATH"])
    assert python
    proc = run_command([python, str(script), str(tmp)], image.workdir, env=image.env)
    sizes = json.loads(proc.stdout.strip().splitlines()[-1])
    return Bodies({size: tmp / f"body-{size}.json" for size in sizes}, tmp / "abuse.json")


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def bench_throughput(
    image: Image, bodies: Bodies, tmp: Path, seconds: int, rounds: int
) -> dict[str, Any]:
    """/predict under wrk's load, generated service against baseline, in turns.

    A third server, the generated service logging to /dev/null, shows what the prediction
    log's writes to disk cost (the log is still serialised and written, by the kernel
    to nowhere).
    """
    script = tmp / "wrk.lua"
    script.write_text(WRK_SCRIPT)
    baseline = f"{BASELINE_MODULE}:create_app"
    no_disk = Image(
        {**image.env, image.setting("prediction_log_path"): os.devnull},
        image.workdir,
        image.cmd,
        image.package,
    )
    results: dict[str, Any] = {}
    with (
        serving(image) as generated_url,
        serving(image, baseline) as baseline_url,
        serving(no_disk) as no_disk_url,
    ):
        urls = {"generated": generated_url, "baseline": baseline_url, "log_to_devnull": no_disk_url}
        for size, body in bodies.by_size.items():
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for url in urls.values():  # warm up: the first requests are slower
                wrk(f"{url}/predict", script, 3, body)
            for _ in range(rounds):
                for name, url in urls.items():
                    runs[name].append(wrk(f"{url}/predict", script, seconds, body))
            summary = {
                name: {"rps": _median(r, "rps"), "p99_ms": _median(r, "p99_ms")}
                for name, r in runs.items()
            }
            ratios = {
                f"{name}_{key}_ratio": summary[name][figure] / summary["baseline"][figure]
                for name in ("generated", "log_to_devnull")
                for key, figure in (("rps", "rps"), ("p99", "p99_ms"))
            }
            results[f"size_{size}"] = {**summary, **ratios, "runs": runs}
    return {**results, "seconds": seconds, "rounds": rounds}


def bench_workers(image: Image, bodies: Bodies, tmp: Path, seconds: int) -> dict[str, Any]:
    """Throughput of one and two uvicorn workers, one record per request.

    One worker runs on the server's core as above; two workers are left to the scheduler
    on both cores, so one of them shares a core with wrk: two cores are all there are.
    Each is measured on kept-alive connections, as above, and with a new connection per
    request: uvicorn's `--workers` leaves Nagle's algorithm on (uvicorn issue #3149), so
    on kept-alive connections every response after the first waits for a delayed ACK.
    """
    script = tmp / "wrk.lua"
    body = bodies.by_size[1]
    results: dict[str, Any] = {}
    for workers in (1, 2):
        with serving(image, workers=workers) as url:
            _wait_for_workers(image.workdir, workers)
            for close in (False, True):
                wrk(f"{url}/predict", script, 3, body, close)
                name = f"workers_{workers}" + ("_close" if close else "")
                results[name] = wrk(f"{url}/predict", script, seconds, body, close)
    results["scaling"] = results["workers_2"]["rps"] / results["workers_1"]["rps"]
    results["scaling_close"] = results["workers_2_close"]["rps"] / results["workers_1_close"]["rps"]
    return results


def _wait_for_workers(workdir: Path, workers: int) -> None:
    """Wait until every worker has started: the first to answer does not mean all have,
    and the others, still importing, would take the CPU from it."""
    log = max(workdir.glob("server-*.log"), key=lambda path: path.stat().st_mtime)
    deadline = time.monotonic() + 120
    while log.read_text(errors="replace").count("Application startup complete") < workers:
        assert time.monotonic() < deadline, f"{workers} workers did not start:\n{log.read_text()}"
        time.sleep(0.5)


# What each of the service's guarantees costs per request, timed in the image's own
# interpreter: strict validation (beyond parsing the JSON), the metrics, the prediction log.
GUARANTEES = textwrap.dedent(
    """
    import json, sys, timeit
    from pathlib import Path
    from pydantic_core import from_json
    from PACKAGE import task
    from PACKAGE.config import get_settings
    from PACKAGE.prediction_log import PredictionLog, request_id
    from PACKAGE.predictor import load_predictor
    from PACKAGE.request import model_input, request_limit
    from PACKAGE.serving.body import json_body_errors
    from PACKAGE.serving.metrics import ServiceMetrics
    from PACKAGE.serving.schemas import PredictionRequest

    body = Path(sys.argv[1]).read_bytes()
    settings = get_settings()
    wanted = model_input(PredictionRequest.model_validate_json(body), request_limit(settings))
    # The served model's own answer to the body, as the service counts and logs it.
    prediction = load_predictor(settings).predict(wanted)
    labels = prediction.outcomes()
    predictions = len(labels)
    response = prediction.response("1").model_dump_json().encode()
    log = PredictionLog(Path(sys.argv[2]))
    metrics = ServiceMetrics(task.OUTCOME_LABEL)

    def parse_and_validate():
        with json_body_errors():
            PredictionRequest.model_validate_json(body)

    def metrics_of_a_request():
        metrics.count_request("POST", "/predict", 200, 0.001)
        metrics.count_predictions(labels)

    def microseconds(function):
        number = 20000 // predictions + 100
        return 1e6 * min(timeit.repeat(function, number=number, repeat=5)) / number

    print(json.dumps({
        "parse_us": microseconds(lambda: from_json(body)),
        "parse_and_validate_us": microseconds(parse_and_validate),
        "metrics_us": microseconds(metrics_of_a_request),
        "log_us": microseconds(lambda: log.append(body, response, request_id(None))),
    }))
    """
)


def bench_guarantees(image: Image, bodies: Bodies, tmp: Path) -> dict[str, Any]:
    script = tmp / "guarantees.py"
    script.write_text(image.script(GUARANTEES))
    python = shutil.which("python", path=image.env["PATH"])
    assert python
    results = {}
    for size, body in bodies.by_size.items():
        log = tmp / f"guarantees-{size}.jsonl"
        cmd = pinned(SERVER_CORE, [python, str(script), str(body), str(log)])
        proc = run_command(cmd, image.workdir, env=image.env)
        results[f"size_{size}"] = json.loads(proc.stdout.strip().splitlines()[-1])
    return results


ABUSER = textwrap.dedent(
    """
    # Sends oversized /predict bodies for a while, one connection after another.
    import socket, sys, time
    port, mode, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    body = open(sys.argv[4], "rb").read()
    head = "POST /predict HTTP/1.1\\r\\nHost: 127.0.0.1\\r\\nContent-Type: application/json\\r\\n"
    if mode == "chunked":
        head += "Transfer-Encoding: chunked\\r\\n\\r\\n"
        step = 1 << 16
        body = b"".join(
            b"%x\\r\\n%s\\r\\n" % (len(body[i : i + step]), body[i : i + step])
            for i in range(0, len(body), step)
        ) + b"0\\r\\n\\r\\n"
    else:
        head += f"Content-Length: {len(body)}\\r\\n\\r\\n"
    answers = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.create_connection(("127.0.0.1", port)) as sock:
            try:
                sock.sendall(head.encode() + body)
            except OSError:
                pass  # the server answered and closed before taking the whole body
            try:
                status = sock.recv(64).split(b" ")[1].decode()
            except (OSError, IndexError):
                status = "reset"  # closed before its answer could be read
            answers[status] = answers.get(status, 0) + 1
    print(answers)
    """
)


def bench_health_under_abuse(
    image: Image, bodies: Bodies, tmp: Path, seconds: int
) -> dict[str, Any]:
    """/health latency while clients send oversized bodies, with the limit and without.

    The abusers send a request for 100,000 predictions of at least 25 MB (100,000 records
    make 29 MB; a horizon is padded) in one body: declared by Content-Length and,
    from a second client, streamed in chunks with no length. One wrk connection probes
    /health meanwhile. "no limit" raises MAX_BODY_BYTES so that bodies are read and
    parsed before the request's limit refuses them, as before the body limit existed.
    """
    script = tmp / "wrk.lua"
    big = bodies.abuse
    abuser = tmp / "abuser.py"
    abuser.write_text(ABUSER)
    python = shutil.which("python", path=image.env["PATH"])
    assert python
    results: dict[str, Any] = {}
    unlimited = {image.setting("max_body_bytes"): str(1 << 30)}
    for name, extra in (("limit", {}), ("no limit", unlimited)):
        variant = Image({**image.env, **extra}, image.workdir, image.cmd, image.package)
        with serving(variant) as url:
            port = url.rsplit(":", 1)[1]
            idle = _probe(url, script, 3)
            abusers = [
                subprocess.Popen(
                    pinned(
                        CLIENT_CORE, [python, str(abuser), port, mode, str(seconds + 2), str(big)]
                    ),
                    stdout=subprocess.PIPE,
                    text=True,
                )
                for mode in ("length", "chunked")
            ]
            time.sleep(1)
            busy = _probe(url, script, seconds)
            answers = [process.communicate(timeout=120)[0].strip() for process in abusers]
        results[name] = {"idle": idle, "abused": busy, "abuser_answers": answers}
    return {**results, "body_mb": big.stat().st_size / 1e6}


def _probe(url: str, script: Path, seconds: int) -> dict[str, float]:
    cmd = ["wrk", "-t1", "-c1", f"-d{seconds}s", "--timeout", "10s", "-s", str(script)]
    proc = run_command(pinned(CLIENT_CORE, [*cmd, f"{url}/health"]), ROOT)
    figures: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return figures


# 4. Serving image dependency size ------------------------------------------------------


def _size_mb(path: Path) -> float:
    return (
        sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink()) / 1e6
    )


def bench_image_size(project: Path, runtime_env: Path | None = None) -> dict[str, Any]:
    """The runtime venv the Dockerfile installs, into `runtime_env` (default: beside the
    project), and its size beside the project's own environment."""
    dockerfile = (project / "Dockerfile").read_text()
    runtime_env = runtime_env or project.parent / "runtime-venv"
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
    parser.add_argument("--seconds", type=int, default=10, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server and size")
    parser.add_argument(
        "--serving", type=Path, metavar="PROJECT", help="only measure serving, on this project"
    )
    parser.add_argument(
        "--problem-type",
        choices=[name for name in choice_values(PROBLEM_TYPE) if name in BASELINE_ANSWERS],
        default=PROBLEM_TYPE["default"],
        help="the generated project's problem type (--serving takes the project's own)",
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    answers = {**ANSWERS, "problem_type": args.problem_type}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.serving:
            results["serving"] = bench_serving(args.serving, tmp, args.seconds, args.rounds)
            print(serving_report(results["serving"]))
        else:
            results["render"] = bench_render(tmp, answers)
            results["first_prediction_warm"], project = bench_first_prediction(
                tmp, cache=None, answers=answers
            )
            setup_s = results["first_prediction_warm"]["steps"]["make setup"]
            results["first_prediction_floor"] = bench_prediction_floor(project, setup_s)
            if args.cold:
                results["first_prediction_cold"], _ = bench_first_prediction(
                    tmp, cache=tmp / "uv-cache", answers=answers
                )
            run([UV, "run", "--no-sync", SLUG, "export-model"], project)
            results["serving"] = bench_serving(project, tmp, args.seconds, args.rounds)
            results["image"] = bench_image_size(project)
            print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def bench_serving(project: Path, tmp: Path, seconds: int, rounds: int) -> dict[str, Any]:
    image = replay_image(project, tmp / "image")
    bodies = write_bodies(image, tmp)
    return {
        "problem_type": problem_type(project),
        "sizes": list(bodies.by_size),
        "throughput": bench_throughput(image, bodies, tmp, seconds, rounds),
        "workers": bench_workers(image, bodies, tmp, seconds),
        "guarantees": bench_guarantees(image, bodies, tmp),
        "health_under_abuse": bench_health_under_abuse(image, bodies, tmp, seconds),
    }


def table(rows: list[tuple[str, str, str, str]]) -> str:
    lines = ["| measure | value | ratio / note | target |", "|---|---|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows])


def report(results: dict[str, Any]) -> str:
    r, i = results["render"], results["image"]
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
    rows.append(
        (
            "serving dependency set (runtime venv)",
            f"{i['runtime_mb']:.0f} MB",
            f"dev env {i['dev_env_mb']:.0f} MB",
            "<= 400 MB",
        )
    )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in warm["steps"].items())
    floors = ", ".join(f"{k.removesuffix('_s')} {v:.1f} s" for k, v in floor.items())
    return (
        table(rows)
        + f"\n\nWarm steps: {steps}\nFloor: {floors}\n\n"
        + serving_report(results["serving"])
    )


def serving_report(serving: dict[str, Any]) -> str:
    rows = []
    for size in serving["sizes"]:
        t = serving["throughput"][f"size_{size}"]
        asks = f"{size} prediction{'s' if size > 1 else ''}"
        generated, baseline, devnull = t["generated"], t["baseline"], t["log_to_devnull"]
        rows += [
            (
                f"/predict throughput, {asks}, generated vs baseline",
                f"{generated['rps']:.0f} vs {baseline['rps']:.0f} req/s",
                f"{t['generated_rps_ratio']:.2f}x",
                ">= 0.8x",
            ),
            (
                f"/predict p99, {asks}, generated vs baseline",
                f"{generated['p99_ms']:.1f} vs {baseline['p99_ms']:.1f} ms",
                f"{t['generated_p99_ratio']:.2f}x",
                "<= 1.2x",
            ),
            (
                f"  the same, prediction log to /dev/null, {asks}",
                f"{devnull['rps']:.0f} req/s, p99 {devnull['p99_ms']:.1f} ms",
                f"{t['log_to_devnull_rps_ratio']:.2f}x, p99 {t['log_to_devnull_p99_ratio']:.2f}x",
                "report",
            ),
        ]
    w = serving["workers"]
    for suffix, connections in (("", "kept-alive"), ("_close", "a new one per request")):
        rows.append(
            (
                f"/predict, 1 prediction, 2 uvicorn workers vs 1, connections {connections}",
                f"{w['workers_2' + suffix]['rps']:.0f} vs {w['workers_1' + suffix]['rps']:.0f}"
                " req/s",
                f"{w['scaling' + suffix]:.2f}x",
                "report",
            )
        )
    for size in serving["sizes"]:
        g = serving["guarantees"][f"size_{size}"]
        rows.append(
            (
                f"cost per request of the guarantees, {size} prediction(s)",
                f"validation {g['parse_and_validate_us'] - g['parse_us']:.0f} µs, metrics "
                f"{g['metrics_us']:.0f} µs, prediction log {g['log_us']:.0f} µs",
                f"JSON parsing alone {g['parse_us']:.0f} µs",
                "report",
            )
        )
    abuse = serving["health_under_abuse"]
    for name in ("limit", "no limit"):
        idle, abused = abuse[name]["idle"], abuse[name]["abused"]
        rows.append(
            (
                f"/health p99 / max while {abuse['body_mb']:.0f} MB bodies are sent ({name})",
                f"{abused['p99_ms']:.1f} / {abused['max_ms']:.0f} ms",
                f"idle {idle['p99_ms']:.1f} / {idle['max_ms']:.0f} ms",
                "report",
            )
        )
    answers = "; ".join(
        f"{name}: {', '.join(abuse[name]['abuser_answers'])}" for name in abuse if name != "body_mb"
    )
    return (
        f"Problem type: {serving['problem_type']}\n\n"
        + table(rows)
        + f"\n\nAbusers' answers (by Content-Length, chunked): {answers}\n"
    )


if __name__ == "__main__":
    sys.exit(main())
