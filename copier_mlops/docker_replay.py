"""A generated Dockerfile, parsed and replayed without a Docker engine.

No Docker engine is available where the template's tests run, so the serving image is
checked by replaying what its Dockerfile says: the builder stage's `COPY`s from the build
context (through `.dockerignore`), its `ENV` and its `uv sync` lines, into a scratch
folder that stands in for the image's filesystem; then the runtime stage's `ENV`, `CMD`
and `HEALTHCHECK`. Only `uv sync` runs are replayed; other `RUN` lines (users, folders)
are about the image, not the program.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from copier_mlops.processes import clean_env, run, uv_executable


@dataclass
class Instruction:
    keyword: str  # upper case
    flags: dict[str, str]  # --from=…, --chown=…
    args: str  # the rest, continuation lines joined


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)


def parse_dockerfile(text: str) -> list[Stage]:
    """Stages and their instructions (comments dropped, continuation lines joined)."""
    logical: list[str] = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1].rstrip() + " "
            continue
        current += line
        if current.strip():
            logical.append(current.strip())
        current = ""
    if current.strip():
        logical.append(current.strip())

    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        flags: dict[str, str] = {}
        rest = rest.strip()
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            name, _, value = flag[2:].partition("=")
            flags[name] = value
            rest = rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=parts[0]))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, flags, rest))
    return stages


def _exec_form(args: str) -> list[str]:
    """An exec-form (JSON array) command; shell form is split like a shell would."""
    if args.startswith("["):
        value = json.loads(args)
        assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
        return value
    return shlex.split(args)


def _env_pairs(args: str) -> list[tuple[str, str]]:
    """`ENV A=1 B="two words"` (or the legacy `ENV A 1`) as pairs."""
    tokens = shlex.split(args)
    if tokens and "=" not in tokens[0]:
        return [(tokens[0], " ".join(tokens[1:]))]
    return [tuple(token.split("=", 1)) for token in tokens]  # type: ignore[misc]


def _expand(value: str, env: Mapping[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def dockerfile_cmd(text: str) -> list[str]:
    """The final stage's CMD as a list (the Dockerfile must use the JSON form)."""
    cmds = [i for i in parse_dockerfile(text)[-1].instructions if i.keyword == "CMD"]
    assert cmds, "the runtime stage has no CMD"
    assert cmds[-1].args.startswith("["), "CMD should use the exec (JSON array) form"
    return _exec_form(cmds[-1].args)


def dockerfile_healthcheck(text: str) -> list[str]:
    """The final stage's HEALTHCHECK command as a list."""
    checks = [i for i in parse_dockerfile(text)[-1].instructions if i.keyword == "HEALTHCHECK"]
    assert checks, "the runtime stage has no HEALTHCHECK"
    args = checks[-1].args
    assert args.upper().startswith("CMD "), f"HEALTHCHECK without CMD: {args}"
    return _exec_form(args[4:].strip())


def _sync_commands(stage: Stage) -> list[list[str]]:
    commands = []
    for instruction in stage.instructions:
        if instruction.keyword != "RUN":
            continue
        for part in re.split(r"&&|;", instruction.args):
            argv = shlex.split(part)
            if argv[:2] == ["uv", "sync"]:
                commands.append(argv)
    return commands


def _builder(stages: list[Stage]) -> Stage:
    for stage in stages:
        if _sync_commands(stage):
            return stage
    raise AssertionError("no stage of the Dockerfile runs `uv sync`")


def dockerfile_sync_commands(text: str) -> list[list[str]]:
    """The `uv sync` commands of the stage that installs the environment, in order."""
    return _sync_commands(_builder(parse_dockerfile(text)))


# Settings that change how an install is done, not what it installs: a replay uses the
# shared uv cache with links instead of the image's uncached, copied, precompiled layer.
_REPLAY_SKIPS = {"UV_NO_CACHE", "UV_COMPILE_BYTECODE", "UV_LINK_MODE"}


def dockerfile_env(text: str) -> dict[str, str]:
    """The installing stage's ENV, minus paths inside the image and cache settings.

    What is left applies as-is to a `uv sync` outside Docker; the caller chooses where
    the environment goes (UV_PROJECT_ENVIRONMENT).
    """
    env: dict[str, str] = {}
    for instruction in _builder(parse_dockerfile(text)).instructions:
        if instruction.keyword == "ENV":
            for key, value in _env_pairs(instruction.args):
                env[key] = _expand(value, {**os.environ, **env})
    return {
        k: v
        for k, v in env.items()
        if k not in _REPLAY_SKIPS and not v.startswith("/") and k != "PATH"
    }


def _dockerignore_matcher(context: Path) -> Any:
    """Docker's .dockerignore rules: a path is excluded by the last pattern that matches
    it or one of its parent folders; `!` re-includes."""
    ignore = context / ".dockerignore"
    rules: list[tuple[bool, re.Pattern[str]]] = []
    if ignore.exists():
        for raw in ignore.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = str(PurePosixPath(line.lstrip("!").strip().strip("/")))
            regex = ""
            i = 0
            while i < len(pattern):
                if pattern.startswith("**/", i):
                    regex += "(?:.*/)?"
                    i += 3
                elif pattern.startswith("**", i):
                    regex += ".*"
                    i += 2
                elif pattern[i] == "*":
                    regex += "[^/]*"
                    i += 1
                elif pattern[i] == "?":
                    regex += "[^/]"
                    i += 1
                else:
                    regex += re.escape(pattern[i])
                    i += 1
            rules.append((negate, re.compile(regex + r"\Z")))

    def excluded(rel: PurePosixPath) -> bool:
        candidates = [rel, *rel.parents][:-1]  # the path and its parents, without "."
        result = False
        for negate, regex in rules:
            if any(regex.match(str(c)) for c in candidates):
                result = not negate
        return result

    return excluded


@dataclass
class DockerReplay:
    """A Dockerfile replayed into scratch folders, one per stage, standing in for images.

    `host(stage, path)` maps a path inside a stage's image to the scratch folder; a
    `COPY --from=<stage> X X` (same path on both sides) shares the folder instead of
    copying it, so a virtual environment keeps working at its original location.
    """

    context: Path
    root: Path
    #: The Dockerfile, relative to the build context.
    dockerfile: str = "Dockerfile"
    stages: list[Stage] = field(default_factory=list)
    mounts: dict[str, list[tuple[PurePosixPath, Path]]] = field(default_factory=dict)
    envs: dict[str, dict[str, str]] = field(default_factory=dict)
    workdirs: dict[str, PurePosixPath] = field(default_factory=dict)

    def host(self, stage: str, path: str | PurePosixPath) -> Path:
        path = PurePosixPath(path)
        if not path.is_absolute():
            path = self.workdirs.get(stage, PurePosixPath("/")) / path
        for prefix, target in sorted(self.mounts[stage], key=lambda m: -len(m[0].parts)):
            if path == prefix or prefix in path.parents:
                return target / path.relative_to(prefix)
        raise AssertionError(f"no mount for {path}")

    def _map_value(self, stage: str, value: str) -> str:
        parts = value.split(os.pathsep)
        return os.pathsep.join(str(self.host(stage, p)) if p.startswith("/") else p for p in parts)

    def _copy_from_context(self, stage: str, instruction: Instruction) -> None:
        *sources, dest = shlex.split(instruction.args)
        excluded = _dockerignore_matcher(self.context)
        dest_host = self.host(stage, dest)
        for source in sources:
            src = self.context / source
            assert src.exists(), f"COPY {source}: not in the build context {self.context}"
            assert not excluded(PurePosixPath(source)), f"COPY {source}: excluded by .dockerignore"
            if src.is_dir():  # Docker copies a folder's contents
                for file in src.rglob("*"):
                    rel = PurePosixPath(file.relative_to(self.context).as_posix())
                    if file.is_file() and not excluded(rel):
                        out = dest_host / file.relative_to(src)
                        out.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(file, out)
            else:
                into = dest.endswith("/") or len(sources) > 1
                target = dest_host / src.name if into else dest_host
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, target)

    def replay(self) -> None:
        """Replay every stage: COPY, WORKDIR, ENV and `uv sync` lines, in order."""
        self.stages = parse_dockerfile((self.context / self.dockerfile).read_text(encoding="utf-8"))
        names = {stage.name for stage in self.stages}
        uv = uv_executable()
        for stage in self.stages:
            self.mounts[stage.name] = [(PurePosixPath("/"), self.root / stage.name)]
            self.workdirs[stage.name] = PurePosixPath("/")
            raw_env: list[tuple[str, str]] = []
            for instruction in stage.instructions:
                if instruction.keyword == "WORKDIR":
                    self.workdirs[stage.name] = self.workdirs[stage.name] / instruction.args
                    self.host(stage.name, self.workdirs[stage.name]).mkdir(
                        parents=True, exist_ok=True
                    )
                elif instruction.keyword == "ENV":
                    raw_env += [
                        (k, v) for k, v in _env_pairs(instruction.args) if k not in _REPLAY_SKIPS
                    ]
                elif instruction.keyword == "COPY" and instruction.flags.get("from") in names:
                    source_stage = instruction.flags["from"]
                    src, dest = shlex.split(instruction.args)
                    assert PurePosixPath(src) == PurePosixPath(dest), (
                        "only same-path stage copies are replayed"
                    )
                    self.mounts[stage.name].append(
                        (PurePosixPath(dest), self.host(source_stage, src))
                    )
                elif instruction.keyword == "COPY" and "from" not in instruction.flags:
                    self._copy_from_context(stage.name, instruction)
                elif instruction.keyword == "RUN":
                    for argv in _sync_commands(Stage(stage.name, stage.base, [instruction])):
                        cwd = self.host(stage.name, self.workdirs[stage.name])
                        run([uv, *argv[1:]], cwd, env=clean_env(self._env(stage.name, raw_env)))
            self.envs[stage.name] = self._env(stage.name, raw_env)

    def _env(self, stage: str, raw_env: list[tuple[str, str]]) -> dict[str, str]:
        """ENV values in order: image paths mapped first, then `$VAR`s expanded."""
        env: dict[str, str] = {}
        for key, value in raw_env:
            env[key] = _expand(self._map_value(stage, value), {**clean_env(), **env})
        return env

    def runtime_env(self) -> dict[str, str]:
        """The final stage's environment, with paths mapped, on top of a clean one."""
        return clean_env(self.envs[self.stages[-1].name])

    def runtime_workdir(self) -> Path:
        final = self.stages[-1].name
        return self.host(final, self.workdirs[final])
