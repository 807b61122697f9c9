"""The real servers the operate stage's tests and benchmarks run against: PostgreSQL, an
MLflow tracking server on it, Prometheus, Alertmanager and the Pushgateway.

Each is a context manager that starts the server on 127.0.0.1 and a free port, in a
temporary folder of its own that holds its configuration, data and log, waits until it
answers, and stops it and removes the folder afterwards. A server never runs as root
(PostgreSQL refuses to): run as root, these create the system user `copier-mlops` when
it is missing, hand it the server's folder and start the server as that user; run as
anyone else, the server runs as the caller.

The binaries come from Debian's packages (`postgresql`, `prometheus`,
`prometheus-alertmanager`, `prometheus-pushgateway`); a missing one raises
MissingToolError, which names the package. MLflow comes from PyPI, see mlflow_server.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from copier_mlops.processes import clean_env, free_port, run, serve, uv_executable

#: The system user the servers run as when these helpers run as root.
SERVER_USER = "copier-mlops"


class MissingToolError(RuntimeError):
    """A server's binary is not installed; the message names the Debian package."""


def debian_tool(command: str, package: str) -> str:
    """`command` on PATH, installed by Debian's `package`."""
    found = shutil.which(command)
    if not found:
        raise MissingToolError(f"{command} not found: apt-get install {package}")
    return found


def postgresql_tool(name: str) -> str:
    """A PostgreSQL server program (initdb, pg_ctl, psql, ...) of the newest major version
    installed: Debian keeps them off PATH, in /usr/lib/postgresql/<major>/bin."""
    found = [
        path
        for path in Path("/usr/lib/postgresql").glob(f"*/bin/{name}")
        if path.parent.parent.name.isdigit()
    ]
    if not found:
        raise MissingToolError(f"PostgreSQL's {name} not found: apt-get install postgresql")
    return str(max(found, key=lambda path: int(path.parent.parent.name)))


@cache
def _server_ids() -> tuple[int, int] | None:
    """The uid and gid the servers run as, or None to run them as the caller (not root)."""
    if os.geteuid() != 0:
        return None
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        # Exit status 9: another process (a second pytest worker) created it meanwhile.
        proc = subprocess.run(
            [
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode not in (0, 9):
            raise RuntimeError(f"useradd {SERVER_USER} failed: {proc.stderr}") from None
        user = pwd.getpwnam(SERVER_USER)
    return user.pw_uid, user.pw_gid


def as_server_user(cmd: Sequence[str]) -> list[str]:
    """`cmd` run as the servers' user: setpriv (util-linux) switches user and then execs
    the command, so the process started is the server itself and gets its signals."""
    ids = _server_ids()
    if ids is None:
        return list(cmd)
    uid, gid = ids
    return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd]


@contextmanager
def _server_folder(name: str) -> Iterator[Path]:
    """A temporary folder that belongs to the servers' user, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"copier-mlops-{name}-") as folder:
        path = Path(folder)
        _give(path)
        yield path


def _give(*paths: Path) -> None:
    """Hand files and folders this process made to the servers' user (when it is root)."""
    if (ids := _server_ids()) is not None:
        for path in paths:
            os.chown(path, *ids)


@contextmanager
def _serving(
    cmd: Sequence[str], folder: Path, env: Mapping[str, str], ready_url: str
) -> Iterator[None]:
    """serve() the command as the servers' user (serve() gives it a session of its own)
    and, once serve() has stopped the server, stop what the server left behind in its
    process group: its folder is removed next."""
    group = None
    try:
        with serve(as_server_user(cmd), folder, env, ready_url) as proc:
            group = proc.pid
            yield
    finally:
        if group is not None:
            _stop_group(group)


def _stop_group(group: int) -> None:
    """Terminate a process group, killing it after 10 s; return once it is gone."""
    deadline = time.monotonic() + 10
    sig = signal.SIGTERM
    while True:
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            sig = signal.SIGKILL
        time.sleep(0.1)


def _server_env(folder: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A server's environment: no trace of this repository's virtual environment, and a
    home in its own folder (the servers' user has none)."""
    return clean_env({"HOME": str(folder), "LC_ALL": "C.UTF-8", **(extra or {})})


@contextmanager
def postgresql(database: str = "mlflow") -> Iterator[str]:
    """A PostgreSQL cluster with `database`, owned by a user of the same name who logs in
    with a password generated now. Yields the URL to connect with:
    postgresql://USER:PASSWORD@127.0.0.1:PORT/DATABASE.

    The superuser is reachable only through the Unix socket in the cluster's private
    folder; TCP logins (127.0.0.1 only) need a password. Durability settings are off: the
    data lives for one test run.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError(f"not a plain SQL identifier: {database!r}")
    initdb, pg_ctl, psql = (postgresql_tool(name) for name in ("initdb", "pg_ctl", "psql"))
    with _server_folder("postgresql") as folder:
        data, socket_dir, log = folder / "data", folder / "socket", folder / "postgresql.log"
        socket_dir.mkdir(mode=0o700)
        _give(socket_dir)
        env = _server_env(folder)
        run(
            as_server_user(
                [
                    initdb,
                    f"--pgdata={data}",
                    "--username=postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            folder,
            env=env,
        )
        port = free_port()
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
        }
        with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
        start = [pg_ctl, f"--pgdata={data}", f"--log={log}", "--wait", "--timeout=60", "start"]
        started = run(as_server_user(start), folder, env=env, check=False)
        if started.returncode != 0:
            raise AssertionError(
                f"PostgreSQL did not start:\n{started.stdout}{started.stderr}\n"
                + (log.read_text(errors="replace") if log.exists() else "")
            )
        try:
            password = secrets.token_urlsafe(24)
            # The password goes through psql's stdin, never a command line others can read.
            proc = subprocess.run(
                [
                    psql,
                    f"--host={socket_dir}",
                    f"--port={port}",
                    "--username=postgres",
                    "--dbname=postgres",
                    "--no-psqlrc",
                    "--quiet",
                    "--set=ON_ERROR_STOP=1",
                ],
                input=(
                    f"CREATE ROLE {database} LOGIN PASSWORD '{password}';\n"
                    f"CREATE DATABASE {database} OWNER {database};\n"
                ),
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise AssertionError(f"creating the database failed:\n{proc.stderr}")
            yield f"postgresql://{database}:{password}@127.0.0.1:{port}/{database}"
        finally:
            stop = [pg_ctl, f"--pgdata={data}", "--mode=fast", "--wait", "stop"]
            run(as_server_user(stop), folder, env=env, check=False)


def locked_version(lock_file: Path, package: str) -> str:
    """The version of `package` a uv.lock pins (a generated project's, say)."""
    with lock_file.open("rb") as f:
        lock = tomllib.load(f)
    versions = {p["version"] for p in lock.get("package", []) if p["name"] == package}
    if len(versions) != 1:
        raise ValueError(f"{lock_file} pins {package} at {sorted(versions) or 'no version'}")
    return str(versions.pop())


@cache
def _runnable_python() -> str:
    """A Python 3.10+ the servers' user can run (an interpreter under root's home, as
    pyenv or uv install them for root, is out of its reach): the first on PATH."""
    # The interpreter checks that it can reach itself: an exec refused for want of
    # permission may still start some other Python under that name.
    probe = (
        "import os, sys; assert sys.version_info >= (3, 10)"
        " and os.access(os.path.realpath(sys.executable), os.R_OK | os.X_OK)"
    )
    candidates = [
        Path(directory) / name
        for directory in clean_env()["PATH"].split(os.pathsep)
        for name in ("python3", "python")
    ]
    for candidate in candidates:
        if not candidate.is_file():
            continue
        proc = subprocess.run(
            as_server_user([str(candidate.resolve()), "-c", probe]),
            capture_output=True,
            check=False,
        )
        if proc.returncode == 0:
            return str(candidate.resolve())
    raise MissingToolError(
        f"no Python 3.10+ on PATH that the user {SERVER_USER} can run: apt-get install python3"
    )


@dataclass(frozen=True)
class MlflowServer:
    """A running MLflow tracking server."""

    #: The tracking URI: http://127.0.0.1:PORT.
    url: str
    #: The interpreter of the server's own environment (mlflow and psycopg installed), to
    #: run clients of the same MLflow version with.
    python: Path
    #: Where the server stores the artifacts clients upload through it.
    artifacts: Path


@contextmanager
def mlflow_server(backend_store_uri: str, *, mlflow_version: str) -> Iterator[MlflowServer]:
    """An MLflow tracking server storing runs and registered models in
    `backend_store_uri` (a `postgresql://` URL from postgresql() is given psycopg as its
    driver) and serving artifacts from its own folder. Yields once /health answers.

    The server's environment is a virtual environment in its folder with
    `mlflow==<mlflow_version>` (pass the version the generated project locks, see
    locked_version) and `psycopg[binary]`, installed by this repository's uv: from uv's
    cache, hard-linked, so only a cold cache reaches PyPI. It is made here, not with
    `uvx`, because uvx's environments live in the caller's cache, which the servers' user
    cannot read when the caller is root. Python writes its bytecode into the server's
    folder, as the server's user cannot write to the environment.
    """
    if backend_store_uri.startswith("postgresql://"):
        backend_store_uri = "postgresql+psycopg://" + backend_store_uri.removeprefix(
            "postgresql://"
        )
    with _server_folder("mlflow") as folder:
        venv, artifacts, pycache = folder / "venv", folder / "artifacts", folder / "pycache"
        uv = uv_executable()
        run(
            [uv, "venv", "--quiet", "--python", _runnable_python(), str(venv)],
            folder,
            env=clean_env(),
        )
        install = [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python")]
        run(
            [*install, f"mlflow=={mlflow_version}", "psycopg[binary]"],
            folder,
            env=clean_env(),
        )
        for path in (artifacts, pycache):
            path.mkdir()
            _give(path)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        cmd = [
            str(venv / "bin" / "mlflow"),
            "server",
            "--host=127.0.0.1",
            f"--port={port}",
            # One worker: a test's traffic needs no more, and each costs a Python process.
            "--workers=1",
            f"--backend-store-uri={backend_store_uri}",
            f"--artifacts-destination={artifacts}",
        ]
        env = _server_env(
            folder,
            {
                "PYTHONPYCACHEPREFIX": str(pycache),
                # Its job runner (a pool of huey consumers, for GenAI evaluation jobs) is
                # of no use to a tracking server and registry, and costs seven processes.
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            },
        )
        with _serving(cmd, folder, env, f"{url}/health"):
            yield MlflowServer(url=url, python=venv / "bin" / "python", artifacts=artifacts)


def _write(folder: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        if path.parent != folder:
            raise ValueError(f"a file name, not a path: {name!r}")
        path.write_text(text, encoding="utf-8")
        _give(path)


@contextmanager
def prometheus(
    config: str, rules: Mapping[str, str] | None = None, *, port: int | None = None
) -> Iterator[str]:
    """Prometheus with `config` (prometheus.yml's text) and `rules`, rule files by name,
    written beside it (so the config's `rule_files` names them as they are given).
    `port` (free_port() by default) lets a config name Prometheus' own address before it
    starts, to scrape itself. Yields its URL once /-/ready answers."""
    binary = debian_tool("prometheus", "prometheus")
    port = port or free_port()
    with _server_folder("prometheus") as folder:
        _write(folder, {"prometheus.yml": config, **(rules or {})})
        url = f"http://127.0.0.1:{port}"
        cmd = [
            binary,
            f"--config.file={folder / 'prometheus.yml'}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Prometheus finds its Alertmanagers up to 5 s after it starts, and drops what
            # fires before; by default it sends a firing alert again only a minute later.
            "--rules.alert.resend-delay=1s",
        ]
        with _serving(cmd, folder, _server_env(folder), f"{url}/-/ready"):
            yield url


@contextmanager
def alertmanager(config: str) -> Iterator[str]:
    """Alertmanager with `config` (alertmanager.yml's text), alone: its cluster listener,
    which would bind every interface, is off. Yields its URL once /-/ready answers."""
    binary = debian_tool("prometheus-alertmanager", "prometheus-alertmanager")
    with _server_folder("alertmanager") as folder:
        _write(folder, {"alertmanager.yml": config})
        url = f"http://127.0.0.1:{free_port()}"
        cmd = [
            binary,
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address={url.removeprefix('http://')}",
            "--cluster.listen-address=",
        ]
        with _serving(cmd, folder, _server_env(folder), f"{url}/-/ready"):
            yield url


@contextmanager
def pushgateway() -> Iterator[str]:
    """Prometheus' Pushgateway, holding what batch jobs push in memory only (its Debian
    default persists to a file under /var/lib). Yields its URL once /-/ready answers."""
    binary = debian_tool("prometheus-pushgateway", "prometheus-pushgateway")
    with _server_folder("pushgateway") as folder:
        url = f"http://127.0.0.1:{free_port()}"
        cmd = [
            binary,
            f"--web.listen-address={url.removeprefix('http://')}",
            "--persistence.file=",
        ]
        with _serving(cmd, folder, _server_env(folder), f"{url}/-/ready"):
            yield url
