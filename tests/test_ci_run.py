""".ci/run provides what the tests would otherwise skip without, or stops loudly.

It is run with `--preflight` on a PATH built for each case: fake `apt-get` and
`dpkg-query` that log what they are asked, and no pyenv. PYTEST_ADDOPTS keeps a .ci/run
that ignored the problem (and went on to the tests) from running the whole suite: it
would only collect them, and exit 0.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from copier_mlops import ROOT
from copier_mlops.processes import run, uv_executable

from helpers.python_versions import REQUIRE_ENV, offered

CI_RUN = ROOT / ".ci" / "run"


def _fake(bin_dir: Path, name: str, script: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    path.chmod(0o755)


def _link(bin_dir: Path, *names: str) -> None:
    for name in names:
        found = shutil.which(name)
        assert found, f"{name} is needed to run .ci/run"
        (bin_dir / name).symlink_to(found)


def _ci_run(path: str, **extra: str) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYENV", "PYTEST_"))}
    env.pop(REQUIRE_ENV, None)
    env.update(PATH=path, PYTEST_ADDOPTS="--collect-only -q", **extra)
    proc = run([str(CI_RUN), "--preflight"], ROOT, env=env, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def _complaints(output: str) -> list[str]:
    """What .ci/run said went wrong (its own lines, not its notice of an install)."""
    return [
        line
        for line in output.splitlines()
        if line.startswith(".ci/run:") and "installing" not in line
    ]


def test_ci_run_stops_when_an_offered_python_is_missing(tmp_path: Path) -> None:
    """On a PATH without Pythons or pyenv, and with no uv-managed ones, only the
    repository's own environment's Python (this one) is left: the run must stop and
    name every other version offered."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _link(bin_dir, "bash", "dirname", "git")
    (bin_dir / "uv").symlink_to(Path(uv_executable()).resolve())
    _fake(bin_dir, "promtool", "exit 0\n")
    _fake(bin_dir, "jq", "exit 0\n")
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    missing = [version for version in offered() if version != ours]
    assert missing, "the template offers only this Python: nothing can be missing"
    code, output = _ci_run(str(bin_dir), UV_PYTHON_INSTALL_DIR=str(tmp_path / "no-pythons"))
    assert code != 0, f".ci/run went on without Python {missing}:\n{output}"
    assert re.findall(r"^Python (\S+): not found$", output, re.MULTILINE) == missing, output
    assert f"Python {', '.join(missing)} not found" in output


def test_ci_run_makes_the_tests_fail_without_an_offered_python(tmp_path: Path) -> None:
    """Under .ci/run's environment, the check of a version this machine lacks fails."""
    assert f"export {REQUIRE_ENV}=1" in CI_RUN.read_text(encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _link(bin_dir, "git")
    (bin_dir / "uv").symlink_to(Path(uv_executable()).resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYENV", "PYTEST_"))}
    env.update(
        {"PATH": str(bin_dir), REQUIRE_ENV: "1"},
        UV_PYTHON_INSTALL_DIR=str(tmp_path / "no-pythons"),
    )
    test = "tests/test_python_version.py::test_project_passes_its_own_checks_on"
    proc = run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "0", "-q", test],
        ROOT,
        env=env,
        check=False,
    )
    assert "skipped" not in proc.stdout, proc.stdout
    assert re.search(r"\b[1-9]\d* failed", proc.stdout), proc.stdout
    assert "not found, but copier.yml offers it" in proc.stdout, proc.stdout


# Each case: what dpkg-query says of prometheus, what the fake apt-get does, and the
# apt-get calls .ci/run must then make (each non-interactive).
APT_CASES = {
    "installs": ("", "install", ["update -q", "install -y -q --no-install-recommends prometheus"]),
    "update fails": ("", "fail-update", ["update -q"]),
    "no promtool after": ("", "no-promtool", ["update -q", "install -y -q"]),
    "already installed": ("install ok installed", "install", []),
}


@pytest.mark.parametrize("case", APT_CASES)
def test_ci_run_installs_promtool_when_missing(tmp_path: Path, case: str) -> None:
    dpkg_status, apt_mode, expected_calls = APT_CASES[case]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    _link(bin_dir, "bash", "dirname")
    _fake(bin_dir, "jq", "exit 0\n")
    _fake(bin_dir, "dpkg-query", f"printf '%s' '{dpkg_status}'\n")
    _fake(bin_dir, "sudo", 'exec "$@"\n')
    _fake(
        bin_dir,
        "apt-get",
        f'echo "$DEBIAN_FRONTEND $*" >> {log}\n'
        f'if [ "$1" = update ] && [ {apt_mode} = fail-update ]; then exit 100; fi\n'
        f'if [ "$1" = install ] && [ {apt_mode} = install ]; then\n'
        f"  printf '#!/bin/sh\\n' > {bin_dir}/promtool; /bin/chmod +x {bin_dir}/promtool\n"
        "fi\n",
    )
    code, output = _ci_run(str(bin_dir))
    calls = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    assert len(calls) == len(expected_calls), f"apt-get calls: {calls}\n{output}"
    for call, expected in zip(calls, expected_calls, strict=True):
        assert call.startswith(f"noninteractive {expected}"), calls
    complaints = _complaints(output)
    if case == "installs":
        assert (bin_dir / "promtool").exists()
        assert not complaints, output
    else:
        assert code != 0, f".ci/run went on without promtool:\n{output}"
        assert any("promtool" in line for line in complaints), output
