"""The cookiecutter export's post-generation hook: what Copier's `_exclude` and
`_message_after_copy` do.

copier_mlops/cookiecutter_export.py copies this module into the exported template and
appends the call to `main`. The exclusions and the message are rendered by cookiecutter
into a file of the generated project (its templates can include the shared fragments,
which a hook cannot); this hook reads that file, removes it, removes what the exclusions
match as Copier's gitignore-style matching would have left it out, and prints the message.
It runs with the user's Python, so it uses the standard library only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

Pattern = tuple[re.Pattern[str], bool]


def _glob(part: str) -> str:
    """A regex for one path segment of a gitignore pattern (no slashes in it)."""
    out: list[str] = []
    i = 0
    while i < len(part):
        char = part[i]
        if char == "\\" and i + 1 < len(part):
            out.append(re.escape(part[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := part.find("]", i + 2)) != -1:
            body = part[i + 1 : end]
            if body[0] in "!^":
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
            continue
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def translate(line: str) -> Pattern | None:
    """A gitignore pattern as a regex over paths relative to the project (no leading or
    trailing slash) and whether it re-includes (`!`); None for a blank or comment line.

    A pattern with a slash before its end is anchored to the project's root, one without
    matches at any depth; a trailing slash matches only what is inside a folder; `**`
    spans folders; a match of a folder matches everything inside it.
    """
    line = re.sub(r"(?<!\\) +$", "", line)
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate or line.startswith(("\\!", "\\#")):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.removesuffix("/")
    anchored = "/" in line
    line = line.removeprefix("/")
    if not line:
        return None
    parts = line.split("/")
    body = ""
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == "**":
            body += ".*" if last else "(?:[^/]*/)*"
        else:
            body += _glob(part) + ("" if last else "/")
    prefix = "" if anchored else "(?:.*/)?"
    suffix = "/.*" if dir_only else "(?:/.*)?"
    return re.compile(f"{prefix}{body}{suffix}", re.DOTALL), negate


def matcher(lines: list[str]) -> Callable[[str], bool]:
    """Whether a relative path is excluded: the last pattern that matches it decides."""
    patterns = [pattern for line in lines if (pattern := translate(line))]

    def excluded(path: str) -> bool:
        result = False
        for regex, negate in patterns:
            if regex.fullmatch(path):
                result = not negate
        return result

    return excluded


def remove_excluded(project: Path, excluded: Callable[[str], bool]) -> None:
    """Remove what Copier would not have written: each file the patterns match, and each
    folder they match that keeps none of its files (Copier creates a folder it excludes
    when it writes a file inside it)."""
    for root, dirs, files in os.walk(project, topdown=False):
        folder = Path(root)
        for name in files:
            path = folder / name
            if excluded(path.relative_to(project).as_posix()):
                path.unlink()
        for name in dirs:
            path = folder / name
            if excluded(path.relative_to(project).as_posix()) and not any(path.iterdir()):
                shutil.rmtree(path)


def main(project: Path, data_file: str) -> int:
    """Apply the exclusions and print the message rendered into `data_file`."""
    data = json.loads((project / data_file).read_text(encoding="utf-8"))
    (project / data_file).unlink()
    lines = [line for text in data["exclude"] for line in re.split(r"\r\n|\r|\n", text)]
    remove_excluded(project, matcher(lines))
    if data["message"]:
        print(data["message"], file=sys.stderr)
    return 0
