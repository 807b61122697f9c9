"""Write reserved_names.yml: the names a generated package must not take.

A package named like a module the project imports shadows that module, and the project
dies on its first import; one named like a folder or test module of the project collides
with it when pytest or mypy import the tests. So the list is derived, never typed:

- keywords and standard-library modules, asked of every Python version copier.yml offers
  (the interpreters must be on PATH or in pyenv);
- the top-level modules of every distribution in the resolutions of the maximal project
  (last stage, largest team, lowest Python), one for each primary user, whose components
  differ: `uv lock` resolves each for every platform
  and Python version at once, and each distribution's wheels (one per platform family,
  so that e.g. pywin32's modules count too) are listed by reading their zip directory
  with HTTP range requests, without downloading them whole;
- the project's own layout: the top-level folders and modules of template/ and the
  modules under template/tests/, which pytest imports under their own names.

Only names a package could take (a lowercase letter, then lowercase letters, digits and
underscores) are kept. tests/test_reserved_names.py fails when the list falls behind.

Usage: uv run python scripts/reserved_names.py [--check]
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tempfile
import tomllib
import urllib.request
import zipfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import copier

from copier_mlops.config import load_copier_config
from copier_mlops.processes import clean_env, find_python, run, uv_executable

ROOT = Path(__file__).resolve().parent.parent

OUTPUT = ROOT / "reserved_names.yml"
COMMAND = "uv run python scripts/reserved_names.py"
POSSIBLE_PACKAGE_NAME = re.compile(r"[a-z][a-z0-9_]*")

HEADER = f"""\
# Names a generated package must not take. A package named like one of these would shadow
# a keyword, a standard-library module or a module of a dependency, or collide with the
# project's own folders and test modules. Written by scripts/reserved_names.py from the
# offered Pythons, a real resolution of the maximal project and the template's layout:
# do not edit by hand, run `{COMMAND}`.
# `distributions` records what the dependency modules were read from, so the tests can
# tell when a dependency is new.
"""


# --------------------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------------------


def possible_package_names(names: Iterable[str]) -> list[str]:
    """The names a package could take, sorted; the validator refuses all others anyway."""
    return sorted({name for name in names if POSSIBLE_PACKAGE_NAME.fullmatch(name)})


def top_level_modules(paths: Iterable[str]) -> set[str]:
    """Top-level importable names of the files a wheel installs (its zip listing or its
    RECORD): packages, modules and extension modules, also under `<name>.data/purelib`
    or `platlib`. Metadata, scripts and `.pth` files are not modules."""
    names = set()
    for path in paths:
        parts = PurePosixPath(path).parts
        if not parts or parts[0] in {"..", "/"} or parts[0].endswith(".dist-info"):
            continue
        if parts[0].endswith(".data"):
            if len(parts) < 3 or parts[1] not in {"purelib", "platlib"}:
                continue
            parts = parts[2:]
        if len(parts) > 1:
            names.add(parts[0])
        elif parts[0].endswith((".py", ".so", ".pyd")):
            names.add(parts[0].split(".", 1)[0])
    return names


def interpreter_names(version: str) -> tuple[set[str], set[str]]:
    """(keywords, standard-library modules) of the interpreter for `version`.

    `sys.stdlib_module_names` leaves out the test packages (`test`, `idlelib.idle_test`);
    listing the standard library's folders finds them, since they shadow the same way.
    """
    python = find_python(version)
    if python is None:
        raise SystemExit(f"Python {version} is needed (on PATH or in pyenv) to list its modules")
    probe = (
        "import json, keyword, pkgutil, sys, sysconfig\n"
        "paths = [sysconfig.get_path('stdlib'),\n"
        "         sysconfig.get_path('platstdlib') + '/lib-dynload']\n"
        "stdlib = set(sys.stdlib_module_names) | set(sys.builtin_module_names)\n"
        "stdlib |= {m.name for m in pkgutil.iter_modules(paths)}\n"
        "print(json.dumps([keyword.kwlist, sorted(stdlib)]))\n"
    )
    out = run([python, "-I", "-c", probe], ROOT).stdout
    keywords, stdlib = json.loads(out)
    return set(keywords), set(stdlib)


def layout_names(template: Path) -> set[str]:
    """Names the generated project's own layout takes: its top-level folders and Python
    modules, and the modules and folders under tests/ (pytest puts tests/ on sys.path).
    Names still holding Jinja are the package's own folder, which is no clash."""
    names = set()
    for folder in (template, template / "tests"):
        for entry in folder.iterdir():
            name = entry.name.removesuffix(".jinja")
            if "{" in name:
                continue
            if entry.is_dir():
                names.add(name)
            elif name.endswith(".py"):
                names.add(name.removesuffix(".py"))
    return names


# --------------------------------------------------------------------------------------
# The resolution of the maximal project
# --------------------------------------------------------------------------------------


def lock_maximal_project(into: Path, primary_user: str) -> dict[str, object]:
    """Render the project with every component on for `primary_user` (each brings
    components of its own) and resolve it with `uv lock`."""
    config = load_copier_config(ROOT)
    ladder = config["ladder"]["default"]
    pythons = config["python_version"]["choices"]
    project = into / f"maximal-{primary_user}"
    copier.run_copy(
        str(ROOT),
        project,
        data={
            "maturity_stage": ladder["stages"][-1],
            "team_size": ladder["team_sizes"][-1],
            "primary_user": primary_user,
            # requires-python is ">=" this, so the universal lock covers every choice.
            "python_version": min(pythons, key=lambda v: tuple(map(int, v.split(".")))),
        },
        defaults=True,
        unsafe=False,
        quiet=True,
        vcs_ref="HEAD",
    )
    run([uv_executable(), "lock", "--quiet"], project, env=clean_env())
    with (project / "uv.lock").open("rb") as f:
        return tomllib.load(f)


class _RemoteFile(io.RawIOBase):
    """A file on an HTTP server that honours range requests, read on demand."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.pos = url, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        end = min(self.pos + len(buffer), self.size)
        if self.pos >= end:
            return 0
        request = urllib.request.Request(  # noqa: S310  (https URLs from uv.lock)
            self.url, headers={"Range": f"bytes={self.pos}-{end - 1}"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            data = response.read()
            if response.status != 206:  # the server sent the whole file
                data = data[self.pos : end]
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)


def _platform_family(filename: str) -> str:
    platform = filename.removesuffix(".whl").rsplit("-", 1)[-1]
    for family in ("win", "macosx", "linux", "any"):
        if family in platform:
            return family
    return platform.split("_", 1)[0]


def wheel_modules(package: dict[str, object]) -> set[str]:
    """Top-level modules of a locked distribution, over one wheel per platform family."""
    wheels = package.get("wheels") or []
    if not wheels:
        raise SystemExit(
            f"{package['name']} {package['version']} has no wheel in uv.lock: "
            "its modules cannot be listed without building it"
        )
    one_per_family = {}
    for wheel in wheels:  # type: ignore[union-attr]
        one_per_family.setdefault(_platform_family(wheel["url"].rsplit("/", 1)[-1]), wheel)
    names = set()
    for wheel in one_per_family.values():
        remote = io.BufferedReader(_RemoteFile(wheel["url"], wheel["size"]), 1 << 16)
        with zipfile.ZipFile(remote) as archive:  # type: ignore[arg-type]
            names |= top_level_modules(archive.namelist())
    return names


def dependency_names(lock: dict[str, object]) -> tuple[list[str], set[str]]:
    """(distribution names, their top-level modules) of every locked package but the
    project itself."""
    packages = [p for p in lock["package"] if "registry" in p["source"]]  # type: ignore[index, union-attr]
    with ThreadPoolExecutor(max_workers=8) as pool:
        modules = set().union(*pool.map(wheel_modules, packages))
    return sorted({p["name"] for p in packages}), modules


# --------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------


def _flow_list(names: list[str], indent: int = 6, width: int = 100) -> str:
    """A YAML flow sequence wrapped at `width`, one quoted name after another."""
    lines, line = [], " " * indent
    for name in names:
        item = json.dumps(name) + ", "
        if len(line) + len(item.rstrip()) > width:
            lines.append(line.rstrip())
            line = " " * indent
        line += item
    lines.append(line.rstrip().removesuffix(","))
    return "[\n" + "\n".join(lines) + "\n    ]"


def render() -> str:
    """The file's full text, from the interpreters, a fresh resolution and template/."""
    pythons = load_copier_config(ROOT)["python_version"]["choices"]
    keywords: set[str] = set()
    stdlib: set[str] = set()
    for version in pythons:
        version_keywords, version_stdlib = interpreter_names(version)
        keywords |= version_keywords
        stdlib |= version_stdlib
    users = load_copier_config(ROOT)["primary_user"]["choices"].values()
    with tempfile.TemporaryDirectory() as tmp:
        locked = {
            (package["name"], package.get("version")): package
            for user in users
            for package in lock_maximal_project(Path(tmp), user)["package"]  # type: ignore[attr-defined]
        }
        distributions, modules = dependency_names({"package": list(locked.values())})
    sections = {
        "keywords": possible_package_names(keywords),
        "stdlib": possible_package_names(stdlib),
        "dependencies": possible_package_names(modules),
        "layout": possible_package_names(layout_names(ROOT / "template")),
        "distributions": distributions,
    }
    body = "".join(f"    {key}: {_flow_list(names)}\n" for key, names in sections.items())
    return HEADER + "reserved_names:\n  type: yaml\n  when: false\n  default:\n" + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") == text:
            return 0
        print(f"{OUTPUT.relative_to(ROOT)} is stale: run `{COMMAND}`", file=sys.stderr)
        return 1
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
