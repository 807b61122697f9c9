"""Running commands for the template's tests, benchmarks and scripts: in a generated
project's own environment (not this repository's), with the uv that runs them, and a
server kept up for the length of a `with` block."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

# Commits in throwaway repositories (snapshots, generated projects): a fixed identity,
# and no user or system git configuration that could sign, hook or rewrite them.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def uv_executable() -> str:
    """The uv that runs these tests (as `uv run` names it, on PATH, or beside Python).

    `uv run` puts its own path in UV; that beats PATH, where a version manager's shim may
    pick a different Python, and so a different uv, inside a project's folder.
    """
    found = (
        os.environ.get("UV")
        or shutil.which("uv")
        or shutil.which("uv", path=str(Path(sys.executable).parent))
    )
    if not found:
        raise RuntimeError("uv is needed to install generated projects: pip install uv")
    return found


def find_python(version: str) -> str | None:
    """An interpreter of `version` (such as "3.13") on this machine, or None.

    Looks on PATH for `python3.13`, then asks pyenv, then uv for one it manages (from
    `uv python install`); nothing is downloaded.
    """
    candidates = [shutil.which(f"python{version}")]
    if pyenv := shutil.which("pyenv"):
        prefix = subprocess.run(
            [pyenv, "prefix", version], capture_output=True, text=True, check=False
        ).stdout.strip()
        if prefix:
            candidates.append(str(Path(prefix) / "bin" / f"python{version}"))
    try:
        uv = uv_executable()
    except RuntimeError:
        uv = None
    if uv:
        uv_find = [uv, "python", "find", "--system", "--no-python-downloads", version]
        found = subprocess.run(uv_find, capture_output=True, text=True, check=False)
        candidates.append(found.stdout.strip())
    probe = "import sys; print('%d.%d' % sys.version_info[:2])"
    for candidate in filter(None, candidates):
        # A shim on PATH may exist and still fail for want of a selected version.
        answer = subprocess.run(
            [candidate, "-c", probe], capture_output=True, text=True, check=False
        ).stdout.strip()
        if answer == version:
            return candidate
    return None


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a generated project's commands.

    Drops what `uv run` set up for this repository's own environment so the generated
    project uses its own, and keeps uv from downloading an interpreter.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "UV_PROJECT_ENVIRONMENT"}
        and not key.startswith(("PYTEST_", "COV_"))
    }
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    # As on a developer's machine, Python caches the bytecode of what it imports; some CI
    # images switch that off, which makes every command compile MLflow & co. again.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["NO_COLOR"] = "1"
    env.pop("FORCE_COLOR", None)
    # The uv that runs the tests stays reachable even with this repository's venv removed.
    uv_dir = str(Path(uv_executable()).parent)
    if uv_dir not in env["PATH"].split(os.pathsep):
        env["PATH"] = os.pathsep.join([env["PATH"], uv_dir])
    env.update(extra or {})
    return env


def run(
    cmd: list[str],
    cwd: Path,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """Run a command; on failure raise with its full output, which pytest shows."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=dict(env) if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`{shlex.join(cmd)}` in {cwd} exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(
    cmd: list[str], cwd: Path, env: Mapping[str, str], url: str
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server and wait for `url` to answer 200; always stop it afterwards."""
    import httpx

    log = cwd / f"server-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        # A session of its own, so stopping it stops what it started too (make, then uv,
        # then the server and its workers), not just the first process.
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise AssertionError(
                    f"`{shlex.join(cmd)}` exited {proc.returncode}:\n"
                    + log.read_text(errors="replace")
                )
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{url} did not answer 200 within 120 s:\n{log.read_text(errors='replace')}"
                )
            time.sleep(0.2)
        yield proc
    finally:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(timeout=20)
        # What outlived the first process (children that ignore SIGTERM or take longer).
        _signal_group(proc, signal.SIGKILL)


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Send `sig` to every process of `proc`'s session (its process group)."""
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
