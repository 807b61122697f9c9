"""Benchmarks of the operate stage, each measured against a baseline in the same run.

1. The monitoring job over 10,000 and 100,000 logged predictions (the whole log as its
   window), beside merely reading the same log: pandas' `read_json(lines=True)` and the
   job's own window reading. The log is the project's own: written by its
   `PredictionLog`, one line per request of one record drawn from the training data, as
   the service writes it, with the champion's real answers. Timed in one interpreter
   (imports once, a warm-up run first), and as `<project> monitor` from the command line.
2. /predict throughput and p99 of the generated service with the prediction log on,
   against the same service with it off (LOG_PREDICTIONS=false), both started by the
   image's own command (the Dockerfile replayed) and loaded by wrk in turns from the other
   core, as benchmarks/run.py does: one record and 100 records per request.
3. The serving image's dependency set: the runtime environment the Dockerfile installs
   (its `uv sync` lines, no dependency group), replayed outside Docker, its size with
   every file counted once, and the distributions that must not be in it.

Needs what benchmarks/run.py needs (wrk, taskset, two cores).

Usage: uv run python benchmarks/operate.py [--seconds S] [--rounds N] [--json PATH]
       uv run python benchmarks/operate.py --project PROJECT  # an operate project whose
                                                              # champion is exported
       uv run python benchmarks/operate.py --smoke  # small logs, short runs: runs at all
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import textwrap
import time
import tomllib
from pathlib import Path
from typing import Any

import copier

# benchmarks/run.py, beside this script: the serving image's replay and wrk's driver.
from run import (
    ANSWERS,
    PACKAGE,
    ROOT,
    UV,
    WRK_SCRIPT,
    Image,
    answer,
    bench_image_size,
    replay_image,
    serving,
    table,
    write_bodies,
    wrk,
)

from copier_mlops.processes import clean_env
from copier_mlops.processes import run as run_command

SIZES = (10_000, 100_000)
SMOKE_SIZES = (200, 2_000)
# What the serving image must not hold: the monitoring job's, the pipeline's and data
# versioning's tools, and the MLflow server (the full `mlflow` distribution and its
# database, web and job-runner stack); mlflow-skinny loads the model.
FORBIDDEN = ("evidently", "dagster", "dvc", "mlflow", "sqlalchemy", "alembic", "flask")
FORBIDDEN_PREFIXES = ("evidently", "dagster", "dvc-", "mlflow-server", "huey")


def project_run(project: Path, cmd: list[str], env: dict[str, str] | None = None) -> str:
    """Run a command in the project's own environment; its standard output."""
    return run_command(cmd, project, env=clean_env(env)).stdout


def build_project(tmp: Path) -> Path:
    """An operate project, set up, trained, promoted, and its champion exported."""
    project = tmp / "operate"
    answers = {**ANSWERS, "maturity_stage": "operate"}
    copier.run_copy(
        str(ROOT), project, data=answers, defaults=True, unsafe=False, quiet=True, vcs_ref="HEAD"
    )
    for target in ("setup", "train", "promote", "export-model"):
        project_run(project, ["make", target])
    return project


def package_of(project: Path) -> str:
    return answer(project, "package_name", PACKAGE)


def variable(project: Path, setting: str) -> str:
    """The environment variable the project reads `setting` from."""
    return f"{package_of(project).upper()}_{setting.upper()}"


# 1. The monitoring job ----------------------------------------------------------------

# Writes COUNT predictions into a log as the service does: for each request of
# PER_REQUEST records drawn from the training data, the body as a client sends it, the
# champion's answer as the service serialises it, appended by the project's PredictionLog.
LOG_WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from PACKAGE.config import get_settings
    from PACKAGE.monitoring.traffic import sample_records
    from PACKAGE.prediction_log import PredictionLog, request_id
    from PACKAGE.predictor import load_predictor
    from PACKAGE.request import model_input, request_limit
    from PACKAGE.serving.schemas import PredictionRequest

    out, count, per_request = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    settings = get_settings()
    limit = request_limit(settings)
    predictor = load_predictor(settings)
    records = sample_records(count, seed=0)
    log = PredictionLog(out)
    for start in range(0, count, per_request):
        body = json.dumps({"records": records[start : start + per_request]}).encode()
        wanted = model_input(PredictionRequest.model_validate_json(body), limit)
        response = predictor.predict(wanted).response(predictor.version)
        # Each line under a new request id, as the service logs a request without one.
        log.append(body, response.model_dump_json().encode(), request_id(None))
    log.close()
    """
)
PER_REQUEST = 1

# Times, in one interpreter, reading each log and judging it. argv: a JSON list of
# [log, window] pairs; the first pair is a warm-up (lazy imports, first registry call).
MONITOR_TIMINGS = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path

    start = time.perf_counter()
    import pandas as pd
    from PACKAGE.config import get_settings
    from PACKAGE.monitoring.job import run_monitoring
    from PACKAGE.monitoring.window import latest_predictions
    imports_s = time.perf_counter() - start


    def timed(function):
        start = time.perf_counter()
        result = function()
        return time.perf_counter() - start, result


    (warm_log, warm_window), *jobs = json.loads(sys.argv[1])
    settings = get_settings()
    run_monitoring(
        settings.model_copy(
            update={"prediction_log_path": Path(warm_log), "monitoring_window": warm_window}
        )
    )
    results = []
    for log, window in jobs:
        log = Path(log)
        pandas_s, frame = timed(lambda: pd.read_json(log, lines=True))
        window_s, rows = timed(lambda: latest_predictions(log, window))
        update = {"prediction_log_path": log, "monitoring_window": window}
        job_s, verdict = timed(lambda: run_monitoring(settings.model_copy(update=update)))
        assert verdict.predictions == len(rows) == min(window, len(frame) * PER_REQUEST)
        results.append({
            "log": log.name, "window": window, "lines": len(frame),
            "predictions": verdict.predictions, "pandas_read_s": pandas_s,
            "window_read_s": window_s, "job_s": job_s,
        })
    print(json.dumps({"imports_s": imports_s, "jobs": results}))
    """
)


def write_logs(project: Path, tmp: Path, sizes: tuple[int, ...]) -> dict[int, Path]:
    """A log of the largest size, and each smaller one its first lines: the same traffic."""
    script = tmp / "log_writer.py"
    script.write_text(LOG_WRITER.replace("PACKAGE", package_of(project)))
    largest = tmp / f"predictions-{max(sizes)}.jsonl"
    count = str(max(sizes))
    write = [UV, "run", "--no-sync", "python", str(script), str(largest), count, str(PER_REQUEST)]
    project_run(project, write)
    logs = {}
    lines = largest.read_bytes().splitlines(keepends=True)
    for size in sizes:
        logs[size] = tmp / f"predictions-{size}.jsonl"
        if size != max(sizes):
            logs[size].write_bytes(b"".join(lines[: size // PER_REQUEST]))
    return logs


def bench_monitoring(project: Path, tmp: Path, sizes: tuple[int, ...]) -> dict[str, Any]:
    start = time.perf_counter()
    logs = write_logs(project, tmp, sizes)
    written_s = time.perf_counter() - start
    settings = f"from {package_of(project)}.config import Settings as S"
    show = f"{settings}; print(S().monitoring_window)"
    default_window = int(project_run(project, [UV, "run", "--no-sync", "python", "-c", show]))
    env = {variable(project, "monitoring_dir"): str(tmp / "monitoring")}
    script = tmp / "monitor_timings.py"
    script.write_text(
        MONITOR_TIMINGS.replace("PACKAGE", package_of(project)).replace(
            "PER_REQUEST", str(PER_REQUEST)
        )
    )
    jobs = [[str(logs[min(sizes)]), default_window]]  # the warm-up
    jobs += [[str(logs[size]), size] for size in sizes]
    jobs += [[str(logs[max(sizes)]), default_window]]  # a scheduled run on a long log
    proc = project_run(
        project, [UV, "run", "--no-sync", "python", str(script), json.dumps(jobs)], env
    )
    timings = json.loads(proc.strip().splitlines()[-1])
    # The command a user or a schedule runs, start-up and imports included.
    command: dict[str, float] = {}
    slug = tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
    for size in sizes:
        cli_env = {
            **env,
            variable(project, "prediction_log_path"): str(logs[size]),
            variable(project, "monitoring_window"): str(size),
        }
        start = time.perf_counter()
        project_run(project, [UV, "run", "--no-sync", slug, "monitor"], cli_env)
        command[f"size_{size}"] = time.perf_counter() - start
    return {
        "sizes": list(sizes),
        "log_mb": {f"size_{size}": logs[size].stat().st_size / 1e6 for size in sizes},
        "logs_written_s": written_s,
        "default_window": default_window,
        **timings,
        "command_s": command,
    }


# 2. Serving with the prediction log on and off ----------------------------------------


def bench_logging(project: Path, tmp: Path, seconds: int, rounds: int) -> dict[str, Any]:
    """The generated service with its prediction log on (the default) and off, in turns."""
    image = replay_image(project, tmp / "image")
    bodies = write_bodies(image, tmp)
    script = tmp / "wrk.lua"
    script.write_text(WRK_SCRIPT)
    off = Image(
        {**image.env, image.setting("log_predictions"): "false"},
        image.workdir,
        image.cmd,
        image.package,
    )
    log = image.workdir / "predictions" / "predictions.jsonl"
    results: dict[str, Any] = {}
    with serving(image) as on_url, serving(off) as off_url:
        urls = {"on": on_url, "off": off_url}
        for size, body in bodies.by_size.items():
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
            for url in urls.values():  # warm up: the first requests are slower
                wrk(f"{url}/predict", script, min(3, seconds), body)
            for _ in range(rounds):
                for name, url in urls.items():
                    runs[name].append(wrk(f"{url}/predict", script, seconds, body))
            summary = {
                name: {
                    "rps": statistics.median(r["rps"] for r in rs),
                    "p99_ms": statistics.median(r["p99_ms"] for r in rs),
                }
                for name, rs in runs.items()
            }
            results[f"size_{size}"] = {
                **summary,
                "rps_ratio": summary["on"]["rps"] / summary["off"]["rps"],
                "p99_ratio": summary["on"]["p99_ms"] / summary["off"]["p99_ms"],
                "runs": runs,
            }
    # Only the service with the log on wrote one: the switch is real.
    logged_lines = sum(1 for _ in log.open("rb")) if log.exists() else 0
    assert logged_lines > 0, f"nothing logged in {log}"
    return {
        **results,
        "sizes": list(bodies.by_size),
        "seconds": seconds,
        "rounds": rounds,
        "logged_requests": logged_lines,
        "log_mb": log.stat().st_size / 1e6,
    }


# 3. The serving image's dependency set ------------------------------------------------


def _tree_size(folder: Path) -> dict[str, float]:
    """Bytes under `folder`, each file counted once (by inode: hard links once), symlinks
    not followed: the files' sizes, and the disk blocks they take."""
    seen: set[tuple[int, int]] = set()
    size = blocks = 0
    for path in folder.rglob("*"):
        stat = path.lstat()
        if path.is_symlink() or not path.is_file() or (stat.st_dev, stat.st_ino) in seen:
            continue
        seen.add((stat.st_dev, stat.st_ino))
        size += stat.st_size
        blocks += stat.st_blocks * 512
    return {"mb": size / 1e6, "disk_mb": blocks / 1e6, "files": len(seen)}


def bench_dependencies(project: Path, tmp: Path) -> dict[str, Any]:
    venv = tmp / "runtime-venv"
    bench_image_size(project, venv)
    listing = run_command(
        [UV, "pip", "list", "--format", "json", "--python", str(venv / "bin" / "python")],
        project,
        env=clean_env(),
    ).stdout
    distributions = sorted(d["name"].lower() for d in json.loads(listing))
    forbidden = [
        name for name in distributions if name in FORBIDDEN or name.startswith(FORBIDDEN_PREFIXES)
    ]
    [site_packages] = venv.glob("lib/python*/site-packages")
    return {
        "venv": _tree_size(venv),
        "site_packages": _tree_size(site_packages),
        "distributions": distributions,
        "forbidden_found": forbidden,
        "dev_env": _tree_size(project / ".venv"),
    }


# ---------------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> str:
    rows = []
    if "monitoring" in results:
        rows += monitoring_rows(results["monitoring"])
    if "serving" in results:
        rows += serving_rows(results["serving"])
    if "dependencies" in results:
        rows += dependency_rows(results["dependencies"])
    return table(rows)


def monitoring_rows(m: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    # The timed jobs: one per size, in order, then the default window over the longest log.
    *by_size, scheduled = m["jobs"]
    for size, job in zip(m["sizes"], by_size, strict=True):
        rows.append(
            (
                f"monitoring job, {size:,} predictions (window = the whole log)",
                f"{job['job_s']:.2f} s, {job['job_s'] / size * 1e6:.0f} µs per prediction",
                f"{job['job_s'] / job['pandas_read_s']:.1f}x pandas read_json "
                f"({job['pandas_read_s']:.2f} s), {job['job_s'] / job['window_read_s']:.1f}x "
                f"its own window read ({job['window_read_s']:.2f} s)",
                "report",
            )
        )
    small, large = by_size
    scale = m["sizes"][1] / m["sizes"][0]
    rows.append(
        (
            f"monitoring job, {m['sizes'][1]:,} vs {m['sizes'][0]:,} predictions",
            f"{large['job_s'] / small['job_s']:.1f}x (reading: pandas "
            f"{large['pandas_read_s'] / small['pandas_read_s']:.1f}x, window "
            f"{large['window_read_s'] / small['window_read_s']:.1f}x)",
            f"{scale:.0f}x the predictions; each one more costs "
            f"{(large['job_s'] - small['job_s']) / (m['sizes'][1] - m['sizes'][0]) * 1e6:.0f} µs",
            f"<= {scale:.0f}x (linear)",
        )
    )
    for size in m["sizes"]:
        rows.append(
            (
                f"`monitor` command, {size:,} predictions (start-up and imports included)",
                f"{m['command_s'][f'size_{size}']:.1f} s",
                f"imports alone {m['imports_s']:.1f} s",
                "< 60 s" if size == max(m["sizes"]) else "report",
            )
        )
    rows.append(
        (
            f"monitoring job, default window of {m['default_window']:,} over "
            f"{scheduled['lines']:,} logged",
            f"{scheduled['job_s']:.2f} s",
            f"its window read {scheduled['window_read_s']:.2f} s",
            "report",
        )
    )
    return rows


def serving_rows(s: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for size in s["sizes"]:
        t = s[f"size_{size}"]
        asks = f"{size} prediction{'s' if size > 1 else ''}"
        rows += [
            (
                f"/predict throughput, {asks}, log on vs off",
                f"{t['on']['rps']:.0f} vs {t['off']['rps']:.0f} req/s",
                f"{t['rps_ratio']:.2f}x",
                ">= 0.9x",
            ),
            (
                f"/predict p99, {asks}, log on vs off",
                f"{t['on']['p99_ms']:.1f} vs {t['off']['p99_ms']:.1f} ms",
                f"{t['p99_ratio']:.2f}x",
                "report",
            ),
        ]
    return rows


def dependency_rows(d: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [
        (
            "serving dependency set: runtime venv (site-packages)",
            f"{d['venv']['mb']:.0f} MB ({d['site_packages']['mb']:.0f} MB), "
            f"{d['venv']['disk_mb']:.0f} MB on disk",
            f"{len(d['distributions'])} distributions; dev env {d['dev_env']['mb']:.0f} MB; "
            f"forbidden found: {', '.join(d['forbidden_found']) or 'none'}",
            "<= 400 MB, none",
        )
    ]


PARTS = ("monitoring", "serving", "dependencies")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8, help="length of each wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per server and size")
    parser.add_argument(
        "--project", type=Path, help="an operate project whose champion is exported"
    )
    parser.add_argument("--smoke", action="store_true", help="small logs and short runs")
    parser.add_argument(
        "--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="what to measure"
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    sizes = SMOKE_SIZES if args.smoke else SIZES
    seconds, rounds = (1, 1) if args.smoke else (args.seconds, args.rounds)
    results: dict[str, Any] = {"load_average": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        project = args.project.resolve() if args.project else build_project(tmp)
        if "monitoring" in args.parts:
            results["monitoring"] = bench_monitoring(project, tmp, sizes)
        if "serving" in args.parts:
            results["serving"] = bench_logging(project, tmp, seconds, rounds)
        if "dependencies" in args.parts:
            results["dependencies"] = bench_dependencies(project, tmp)
    results["load_average_after"] = os.getloadavg()
    print(report(results))
    print(
        f"\nLoad average before and after: {results['load_average']}, "
        f"{results['load_average_after']}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if results.get("dependencies", {}).get("forbidden_found") else 0


if __name__ == "__main__":
    sys.exit(main())
