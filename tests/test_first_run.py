"""The first day, as a user lives it: the steps Copier prints run as printed, and every
`make` target the generated README documents runs.

Each stage is generated with Copier's command line, its printed next steps are read from
the output and run one by one in a shell. A step that keeps running (`make serve`) is
started in the background and the request printed after it must answer. Then each make
target in the README's command table runs, so a target that is documented but missing or
broken fails here.
"""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from copier_mlops.ladder import LADDER, STAGES, TEAM_SIZES
from copier_mlops.processes import GIT_ENV, clean_env, run, serve
from copier_mlops.service import SERVICE

from helpers.generated_project import stage_params

pytestmark = pytest.mark.slow

# Steps that keep running until stopped: started in the background, stopped at the end.
LONG_RUNNING = {
    "make serve": f"http://127.0.0.1:{SERVICE.port}{SERVICE.paths['ready']}",
    "make mlflow-ui": "http://127.0.0.1:5000",
    "make dagster-ui": "http://127.0.0.1:3000/server_info",
    "make retrain-webhook": f"http://127.0.0.1:{LADDER.components['retraining_webhook']['port']}/health",
}
# Targets that need a Docker engine, which this machine has not: checked with `make -n`.
NEEDS_DOCKER = {"docker-build", "docker-run", "up", "down"}
# Targets that check or send traffic to a running service (the local one by default): run
# while the step that starts it keeps running, as the README says.
NEEDS_SERVICE = {"smoke-test": "make serve", "sample-traffic": "make serve"}


def _printed_blocks(output: str) -> list[list[str]]:
    """The shell commands Copier's message prints, as blocks of indented lines, without
    their comments. The message starts at its first line; before it Copier lists files."""
    message = output[output.index("Your ") :]
    blocks: list[list[str]] = [[]]
    for line in message.splitlines():
        if line.startswith("  ") and line.strip():
            blocks[-1].append(re.split(r"\s{2,}#\s", line.strip(), maxsplit=1)[0])
        elif blocks[-1]:
            blocks.append([])
    return [block for block in blocks if block]


def _readme_targets(readme: str) -> list[str]:
    return re.findall(r"^\| `make ([\w-]+)` \|", readme, flags=re.MULTILINE)


def _assert_port_free(url: str) -> None:
    port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            pytest.fail(f"port {port} is in use; the printed steps need it free")


class Shell:
    """Runs printed commands one at a time, following `cd` like a terminal would."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.env = clean_env(GIT_ENV)

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        argv = shlex.split(command)
        if argv[0] == "cd":
            self.cwd = (self.cwd / argv[1]).resolve()
            return subprocess.CompletedProcess(argv, 0, "", "")
        return run(["bash", "-eo", "pipefail", "-c", command], self.cwd, env=self.env)

    @contextmanager
    def background(self, command: str, url: str) -> Iterator[None]:
        _assert_port_free(url)
        with serve(["bash", "-c", f"exec {command}"], self.cwd, self.env, url):
            yield


def _generate(stage: str, template: Path, destination: Path) -> str:
    """Generate with Copier's command line; returns what it printed."""
    result = run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            *("-d", f"maturity_stage={stage}", "-d", f"team_size={TEAM_SIZES[0]}"),
            str(template),
            str(destination),
        ],
        destination.parent,
        env=clean_env(),
    )
    return result.stdout + result.stderr


@pytest.mark.parametrize("stage", stage_params(STAGES, copy="first-run"))
def test_printed_steps_and_documented_targets_run(
    stage: str, template_snapshot: Path, tmp_path: Path
) -> None:
    project = tmp_path / "my-ml-project"
    output = _generate(stage, template_snapshot, project)
    steps, *then = _printed_blocks(output)
    assert steps[0].startswith("cd "), output
    commit = next(i for i, step in enumerate(steps) if step.startswith("git add -A && git commit"))
    assert commit < steps.index("make train"), "the printed steps must commit before training"
    *requests, update = then
    assert update == [next(s for s in update if " copier update " in s)], update

    shell = Shell(tmp_path)
    done: set[str] = set()
    for step in steps:
        if step in LONG_RUNNING:
            # "Then, in a second terminal": the request printed after the steps.
            [request] = requests
            with shell.background(step, LONG_RUNNING[step]):
                answer = json.loads(shell.run(request[0]).stdout)
            assert len(answer["predictions"]) == 1, answer
        else:
            shell.run(step)
        done.add(step)
    assert shell.cwd == project.resolve()
    assert ("make serve" in done) == bool(requests), "a served model comes with its request"

    # The model card of a model trained after the printed commit names that commit.
    if (project / "MODEL_CARD.md").exists():
        head = shell.run("git rev-parse HEAD").stdout.strip()
        assert f"| Code version | `{head}` |" in (project / "MODEL_CARD.md").read_text()

    # "Commit your work, then" the update command, as printed: nothing changes, nothing is
    # lost (the template has not moved on since the project was generated).
    shell.run("git add -A && { git diff --cached --quiet || git commit -q -m 'First model'; }")
    shell.run(update[0])
    assert shell.run("git status --porcelain").stdout == ""

    readme = (project / "README.md").read_text(encoding="utf-8")
    targets = _readme_targets(readme)
    assert {"setup", "lint", "test", "train"} <= set(targets), targets
    for target in [t for t in targets if t != "clean"] + ["clean"]:
        command = f"make {target}"
        if command in done:
            continue
        if target in NEEDS_DOCKER:
            dry_run = shell.run(f"make -n {target}").stdout
            assert "docker " in dry_run, dry_run
        elif command in LONG_RUNNING:
            with shell.background(command, LONG_RUNNING[command]):
                assert httpx.get(LONG_RUNNING[command], timeout=10).status_code == 200
        elif target in NEEDS_SERVICE:
            service = NEEDS_SERVICE[target]
            with shell.background(service, LONG_RUNNING[service]):
                shell.run(command)
        else:
            shell.run(command)
    assert not (project / "build").exists(), "make clean removes the build output"

    # The README's way up to the next stage, as written there.
    next_stage = re.search(r"^## Next stage: (\w+)\n(.*?)^## ", readme, re.MULTILINE | re.DOTALL)
    if next_stage is None:
        assert stage == STAGES[-1], "every stage but the last says how to move up"
        return
    [commands] = re.findall(r"```bash\n(.*?)```", next_stage.group(2), re.DOTALL)
    for command in commands.splitlines():
        shell.run(command)
    answers = (project / ".copier-answers.yml").read_text(encoding="utf-8")
    assert f"maturity_stage: {next_stage.group(1)}" in answers
    assert f"**{next_stage.group(1)}** stage" in (project / "README.md").read_text()
