"""The software engineer's path, measured: from `copier copy` to "my app got a typed
prediction", each step timed, against the default path in the same run.

The path is the one the generated README gives (primary_user=software_engineer, deploy
stage, team size solo, warm uv cache): `copier copy`, `make setup`, `make train`,
`make promote`, `make serve`'s command until the service answers, then the app's side:
a fresh virtual environment of the app's own with the client installed from client/
(httpx2 and pydantic, nothing of the model's), and the app's first call, the README's
example (client/example.py) run in that environment, whose typed `predict` returns.

The baseline is the same path on the default (ml_engineer) project, as
benchmarks/run.py measures it: copy to the first /predict answered to a plain HTTP
client. The two paths take turns, ROUNDS times (each going first in every other round),
and each figure is the median; the ratio is what the software engineer's path costs
beyond the default one.

Usage: uv run python benchmarks/software_engineer.py [--rounds N] [--problem-type TYPE]
                                                      [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import copier

# benchmarks/run.py, beside this script: the default path and the helpers it runs with.
from run import (
    ANSWERS,
    PROBLEM_TYPE,
    ROOT,
    SLUG,
    UV,
    Stopwatch,
    bench_first_prediction,
    run,
    server,
)

from copier_mlops.config import choice_values
from copier_mlops.processes import clean_env, free_port
from copier_mlops.processes import run as run_command

USER = "software_engineer"


def bench_typed_prediction(tmp: Path, answers: dict[str, str]) -> dict[str, Any]:
    """Copy to the app's first typed prediction, each step timed."""
    project = tmp / "software-engineer"
    app = tmp / "app"
    watch = Stopwatch()
    lap = watch.lap

    copier.run_copy(
        str(ROOT),
        project,
        data={**answers, "primary_user": USER},
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    lap("copier copy")
    # The commands the generated README's first section gives.
    run(["make", "setup"], project)
    lap("make setup")
    run(["make", "train"], project)
    lap("make train")
    run(["make", "promote"], project)
    lap("make promote")
    port = free_port()
    cmd = [UV, "run", "--no-sync", SLUG, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with server(cmd, project, port, {}) as url:
        lap("serve (until it answers)")
        # The app: an environment of its own, the client its only addition.
        run([UV, "venv", "--quiet", str(app)], tmp)
        python = str(app / "bin" / "python")
        run([UV, "pip", "install", "--quiet", "--python", python, str(project / "client")], tmp)
        lap("app: install the client")
        example = project / "client" / "example.py"
        printed = run_command(
            [python, str(example)], tmp, env=clean_env({"MODEL_API_URL": url})
        ).stdout
        lap("app: first typed predict")
    installed = run_command(
        [UV, "pip", "list", "--python", python, "--format", "json"], tmp, env=clean_env()
    ).stdout
    return {
        "total_s": watch.total(),
        "steps": watch.steps,
        "printed": printed.strip(),
        "app_distributions": sorted(p["name"] for p in json.loads(installed)),
    }


def median_steps(runs: list[dict[str, Any]]) -> dict[str, float]:
    return {name: statistics.median(r["steps"][name] for r in runs) for name in runs[0]["steps"]}


def report(results: dict[str, Any]) -> str:
    ours, base = results["software_engineer"], results["ml_engineer"]
    lines = [
        f"copier copy -> the app's first typed prediction: {ours['total_s']:.1f} s "
        f"(median of {results['rounds']})",
        f"copier copy -> first /predict, default path:    {base['total_s']:.1f} s",
        f"ratio: {ours['total_s'] / base['total_s']:.2f}x",
        "",
        "software engineer's steps (median):",
        *(f"  {name:<28} {seconds:6.1f} s" for name, seconds in ours["steps"].items()),
        "default path's steps (median):",
        *(f"  {name:<28} {seconds:6.1f} s" for name, seconds in base["steps"].items()),
        "",
        f"the app's environment: {', '.join(ours['app_distributions'])}",
        f"the app printed: {ours['printed']}",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="runs of each path, in turns")
    parser.add_argument(
        "--problem-type", choices=choice_values(PROBLEM_TYPE), default=PROBLEM_TYPE["default"]
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    answers = {**ANSWERS, "problem_type": args.problem_type}
    ours: list[dict[str, Any]] = []
    base: list[dict[str, Any]] = []
    for round_ in range(args.rounds):
        # Each path goes first in every other round: the first warms the disk's cache of
        # the uv cache's files for the second.
        for path in ("ours", "base") if round_ % 2 == 0 else ("base", "ours"):
            with tempfile.TemporaryDirectory() as tmp_name:
                if path == "ours":
                    ours.append(bench_typed_prediction(Path(tmp_name), answers))
                else:
                    base.append(
                        bench_first_prediction(Path(tmp_name), cache=None, answers=answers)[0]
                    )
    results = {
        "rounds": args.rounds,
        "problem_type": args.problem_type,
        "software_engineer": {
            "total_s": statistics.median(r["total_s"] for r in ours),
            "steps": median_steps(ours),
            "printed": ours[-1]["printed"],
            "app_distributions": ours[-1]["app_distributions"],
            "runs_s": [r["total_s"] for r in ours],
        },
        "ml_engineer": {
            "total_s": statistics.median(r["total_s"] for r in base),
            "steps": median_steps(base),
            "runs_s": [r["total_s"] for r in base],
        },
    }
    print(report(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
