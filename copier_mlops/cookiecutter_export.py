"""The template exported as a cookiecutter template, made from the source Copier renders.

    uv run python -m copier_mlops.cookiecutter_export DEST [--src-path URL]

writes to DEST:

- `cookiecutter.json`: copier.yml's questions in its order, with their defaults (choice
  questions as lists, the default first) and their help and labels as prompts; its
  derived values (`when: false`) as cookiecutter's private variables, the templated ones
  rendered by cookiecutter from the same Jinja; copier.yml's `_envops` and the Jinja
  extension Copier always loads (jinja2-ansible-filters);
- `{{cookiecutter.__project_slug}}/`: copier.yml's `_subdirectory`, each `.jinja` file
  with its suffix dropped and a preamble that gives it the names Copier's context has
  (the answers, the derived values, `_copier_conf`, `_copier_answers`); every other file
  copied verbatim (`_copy_without_render`), as Copier copies it;
- `templates/`: the folders those files include or import from (fragments/, problem_types/),
  where cookiecutter's loader looks after the template's own folder;
- `hooks/`: this repository's hooks/pre_gen_project.py (copier.yml's validators, rendered
  by cookiecutter) and hooks/post_gen_project.py (`_exclude` and `_message_after_copy`);
- `copier_environment.py`: hooks/copier_environment.py, the local Jinja extension that
  gives cookiecutter's environment Copier's handling of undefined names.

Nothing here names a component, a question or a file of the template: everything is read
from copier.yml and the template's tree. docs/cookiecutter.md explains the mapping.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from copier_mlops import ROOT
from copier_mlops.config import choice_values, load_copier_config

#: The derived value that names the generated project's folder (cookiecutter needs one).
PROJECT_DIR_ANSWER = "project_slug"
#: The file of the generated project the post-generation hook reads, then removes.
POST_GEN_DATA = ".cookiecutter-post-gen.json"
#: Where cookiecutter's loader looks for included templates, beside the project folder.
SHARED_DIR = "templates"
#: The extension Copier always adds to its Jinja environment (regex_search, to_nice_yaml...).
COPIER_EXTENSIONS = ["jinja2_ansible_filters.AnsibleCoreFiltersExtension"]
#: hooks/copier_environment.py, copied beside cookiecutter.json, where cookiecutter and
#: cruft import local extensions from; it gives cookiecutter Copier's undefined names.
LOCAL_EXTENSION = "copier_environment"
LOCAL_EXTENSIONS = [f"{LOCAL_EXTENSION}.CopierUndefined"]
#: How a derived value's rendered text becomes the value, by copier.yml `type`.
_CASTS = {"str": "", "yaml": " | from_yaml", "json": " | from_json", "int": " | int"}
#: The answer types asked as text, with how a file's preamble turns cookiecutter's answer
#: (a string) into Copier's; a `bool` is asked as cookiecutter's yes or no.
_ASKED_TYPES = {"str": "", "int": " | int", "float": " | float"}
#: copier.yml settings the export reproduces (or, for updates, leaves to the tool that
#: updates); any other setting stops the export rather than be silently ignored.
_SETTINGS = {
    "_answers_file",
    "_envops",
    "_exclude",
    "_jinja_extensions",
    "_message_after_copy",
    "_message_after_update",
    "_message_before_update",
    "_min_copier_version",
    "_skip_if_exists",
    "_subdirectory",
    "_templates_suffix",
}
#: What Copier's cast_to_bool reads as false in a rendered `when`.
_FALSE_WORDS = ["", "0", "n", "no", "f", "false", "off", "~", "null", "none"]
_INCLUDE = re.compile(r"""\{%-?\s*(?:include|import|from|extends)\s+["']([^"'/]+)/""")
_PATH_EXPRESSION = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")


class ExportError(ValueError):
    """copier.yml uses something the export has no cookiecutter equivalent for."""


@dataclass(frozen=True)
class Source:
    """What the generated project's .copier-answers.yml records about the template, as
    Copier records it (`_commit`, `_src_path`), and the ref `copier update` follows."""

    commit: str | None
    commit_hash: str | None
    src_path: str
    vcs_ref: str | None

    @classmethod
    def of(cls, root: Path, src_path: str | None = None) -> Source:
        """The template repository at `root`: its `git describe`, the URL given (or its
        origin's, or its path) and HEAD unless HEAD is a tag, as Copier would take it."""

        def git(*args: str) -> str | None:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
            )
            return done.stdout.strip() if done.returncode == 0 else None

        if git("rev-parse", "--is-inside-work-tree") != "true":
            return cls(None, None, src_path or str(root.resolve()), None)
        url = src_path or git("remote", "get-url", "origin") or str(root.resolve())
        at_tag = git("describe", "--tags", "--exact-match") is not None
        return cls(
            git("describe", "--tags", "--always"),
            git("rev-parse", "HEAD"),
            url,
            None if at_tag else "HEAD",
        )


def _files(root: Path) -> list[PurePosixPath]:
    """The repository's files as a commit would hold them (ignored files left out)."""
    listing = subprocess.run(
        ["git", "-C", str(root), "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode == 0:
        names = [name for name in listing.stdout.split("\0") if name]
        return sorted(PurePosixPath(n) for n in names if (root / n).is_file())
    skip = {".git", ".venv", "__pycache__"}
    return sorted(
        PurePosixPath(p.relative_to(root).as_posix())
        for p in root.rglob("*")
        if p.is_file() and not skip.intersection(p.relative_to(root).parts)
    )


def _questions(config: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (name, question)
        for name, question in config.items()
        if not name.startswith("_") and isinstance(question, Mapping)
    ]


def _help(question: Mapping[str, Any], data: Mapping[str, Any], name: str) -> str:
    """A question's help as Copier shows it: rendered (it may list the ladder's components)
    with the derived data values, the indentation of its continuation lines kept. Copier's
    environment (sandboxed, with its extension), as its prompts render help."""
    text = str(question.get("help", name))
    env = SandboxedEnvironment(extensions=COPIER_EXTENSIONS, keep_trailing_newline=True)
    return env.from_string(text).render(data)


def _is_template(text: str) -> bool:
    return any(delimiter in text for delimiter in ("{{", "{%", "{#"))


def _when(template: str, body: str) -> str:
    """`body`, kept only when a question's templated `when` renders true for Copier."""
    return (
        f"{{% set _when %}}{template}{{% endset %}}"
        f"{{% if _when | trim | lower not in {json.dumps(_FALSE_WORDS)} %}}{body}{{% endif %}}"
    )


class _Context:
    """cookiecutter.json, built question by question with the preamble that binds
    Copier's names in each rendered text."""

    def __init__(self, config: Mapping[str, Any], source: Source) -> None:
        self.json: dict[str, Any] = {}
        self.prompts: dict[str, Any] = {}
        self.bindings: list[str] = []
        #: Cookiecutter's name for each of copier.yml's names that a path may use.
        self.path_names: dict[str, str] = {}
        #: The questions asked, each with its `when` template (None: always asked).
        self.asked: list[tuple[str, Mapping[str, Any], str | None]] = []
        #: cookiecutter.json's default for each question asked as text, when not a template.
        self.literal_defaults: dict[str, str] = {}
        data = {
            name: q["default"]
            for name, q in _questions(config)
            if q.get("when") is False and not isinstance(q.get("default"), str)
        }
        for name, question in _questions(config):
            self._add(name, question, data)
        self._add_copier_names(config, source)

    @property
    def preamble(self) -> str:
        return "".join(self.bindings)

    def _add(self, name: str, question: Mapping[str, Any], data: Mapping[str, Any]) -> None:
        kind = str(question.get("type", "str"))
        default = question.get("default", "")
        when = question.get("when", True)
        if when is False:
            if not isinstance(default, str):
                self.json[f"_{name}"] = default
                self.bindings.append(f"{{% set {name} = cookiecutter._{name} %}}")
                return
            if kind not in _CASTS:
                raise ExportError(f"{name}: derived values of type {kind} are not exported")
            self.json[f"__{name}"] = self.preamble + default
            self.bindings.append(f"{{% set {name} = cookiecutter.__{name}{_CASTS[kind]} %}}")
            if kind == "str":
                self.path_names[name] = f"__{name}"
            return
        if kind == "bool" and isinstance(default, bool) and "choices" not in question:
            # Cookiecutter asks yes or no for a boolean and answers True or False.
            self.json[name] = default
            self.prompts[name] = _help(question, data, name)
            self.bindings.append(f"{{% set {name} = cookiecutter.{name} %}}")
            self.asked.append((name, question, when if isinstance(when, str) else None))
            return
        if kind in ("yaml", "json") and "choices" not in question:
            # Asked as text, as Copier asks it, and parsed the same way.
            default = default if isinstance(default, str) else json.dumps(default)
            cast = _CASTS[kind]
        elif kind in _ASKED_TYPES:
            cast = _ASKED_TYPES[kind]
        else:
            raise ExportError(f"{name}: a {kind} question is not exported")
        if question.get("secret") or question.get("multiselect"):
            raise ExportError(f"{name}: secret and multiple-choice questions are not exported")
        help_text = _help(question, data, name)
        if "choices" in question:
            values = choice_values(question)
            if _is_template(str(default)):
                # Cookiecutter takes the first choice, rendered, as the default: the
                # template, rendered to one of the choices, which the list then repeats.
                self.json[name] = [self.preamble + str(default), *values]
            elif str(default) in values:
                self.json[name] = [str(default), *(v for v in values if v != str(default))]
            else:
                raise ExportError(f"{name}: the default {default!r} is not one of {values}")
            choices = question["choices"]
            labels = (
                {str(v): str(k) for k, v in choices.items()}
                if isinstance(choices, Mapping)
                else {v: v for v in values}
            )
            self.prompts[name] = {"__prompt__": help_text, **labels}
        else:
            text = str(default)
            self.json[name] = self.preamble + text if _is_template(text) else text
            if not _is_template(text):
                self.literal_defaults[name] = text
            self.prompts[name] = help_text
        self.bindings.append(f"{{% set {name} = cookiecutter.{name}{cast} %}}")
        if kind == "str":
            self.path_names[name] = name
        self.asked.append((name, question, when if isinstance(when, str) else None))

    def _add_copier_names(self, config: Mapping[str, Any], source: Source) -> None:
        """`_copier_conf` (the settings the templates read) and `_copier_answers` (what
        Copier records in the answers file: its source, then each question asked)."""
        if PROJECT_DIR_ANSWER not in self.path_names:
            raise ExportError(f"copier.yml has no str value {PROJECT_DIR_ANSWER} to name a folder")
        self.json["_copier_conf"] = {
            "answers_file": str(config.get("_answers_file", ".copier-answers.yml")),
            "src_path": source.src_path,
            "vcs_ref": source.vcs_ref,
            "vcs_ref_hash": source.commit_hash,
        }
        project_dir = f"cookiecutter.{self.path_names[PROJECT_DIR_ANSWER]}"
        self.bindings.append(
            "{% set _copier_conf = dict(cookiecutter._copier_conf, dst_path="
            f'(cookiecutter._output_dir | default(".")) ~ "/" ~ {project_dir}) %}}'
        )
        self.bindings.append(f"{{% set _folder_name = {project_dir} %}}")
        recorded = {"_commit": source.commit, "_src_path": source.src_path}
        self.json["_copier_source"] = {k: v for k, v in recorded.items() if v is not None}
        answers = "{% set _answers = dict(cookiecutter._copier_source) %}"
        for name, _question, when in self.asked:
            update = f'{{% set _ = _answers.update({{"{name}": {name}}}) %}}'
            if when is None:
                answers += update
            elif re.search(rf"\b{name}\b", when) and name in self.literal_defaults:
                # Copier renders a question's `when` before asking it, so its own name is
                # defined there only when an answer was given: here, one that is not the
                # default. `_unanswered` is never defined.
                given = f"cookiecutter.{name} != {json.dumps(self.literal_defaults[name])}"
                answers += (
                    f"{{% if {given} %}}{_when(when, update)}{{% else %}}"
                    f"{{% with {name} = _unanswered %}}{_when(when, update)}{{% endwith %}}"
                    "{% endif %}"
                )
            else:
                answers += _when(when, update)
        self.json["__copier_answers"] = self.preamble + answers + "{{ _answers | to_json }}"
        self.bindings.append(
            "{% set _copier_answers = cookiecutter.__copier_answers | from_json %}"
        )


def _cookiecutter_path(path: PurePosixPath, context: _Context, answers_file: str) -> str:
    """A template path with Copier's expressions in cookiecutter's terms."""

    def name(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression == "_copier_conf.answers_file":
            return answers_file
        if expression in context.path_names:
            return f"{{{{cookiecutter.{context.path_names[expression]}}}}}"
        raise ExportError(f"{path}: no cookiecutter equivalent for {{{{ {expression} }}}}")

    rendered = _PATH_EXPRESSION.sub(name, path.as_posix())
    if re.search(r"\{%|\{\{(?!cookiecutter\.)", rendered):
        raise ExportError(f"{path}: only {{{{ name }}}} expressions are exported in paths")
    return rendered


def _fnmatch_literal(path: str) -> str:
    """`path` as an fnmatch pattern that matches only itself."""
    return "".join(f"[{c}]" if c in "[]*?" else c for c in path)


def _shared_dirs(root: Path, files: list[PurePosixPath], sources: Iterable[str]) -> list[str]:
    """The repository's top-level folders the templates include or import from, followed
    through the files of those folders."""
    found: set[str] = set()
    pending = list(sources)
    while pending:
        for folder in _INCLUDE.findall(pending.pop()):
            if folder in found:
                continue
            if not (root / folder).is_dir():
                raise ExportError(f"a template includes from {folder}/, which is no folder")
            found.add(folder)
            pending += [
                (root / f).read_text(encoding="utf-8")
                for f in files
                if f.parts[0] == folder and f.suffix == ".jinja"
            ]
    return sorted(found)


def export(dest: Path, root: Path = ROOT, src_path: str | None = None) -> Path:
    """Write the cookiecutter template for the template repository at `root` to `dest`
    (which must not exist or be empty); returns `dest`."""
    if dest.exists() and any(dest.iterdir()):
        raise ExportError(f"{dest} is not empty")
    config = load_copier_config(root)
    unknown = sorted(k for k in config if k.startswith("_") and k not in _SETTINGS)
    if unknown:
        raise ExportError(f"copier.yml settings the export does not reproduce: {unknown}")
    context = _Context(config, Source.of(root, src_path))
    suffix = str(config.get("_templates_suffix", ".jinja"))
    subdirectory = PurePosixPath(str(config.get("_subdirectory", ".")))
    answers_file = context.json["_copier_conf"]["answers_file"]
    envops = dict(config.get("_envops", {}))
    if envops.pop("keep_trailing_newline", True) is not True or "undefined" in envops:
        raise ExportError("cookiecutter keeps trailing newlines and undefined names strict")
    if not suffix:
        raise ExportError("a template without a templates suffix is not exported")

    files = _files(root)
    tree = [f.relative_to(subdirectory) for f in files if f.is_relative_to(subdirectory)]
    project = f"{{{{cookiecutter.{context.path_names[PROJECT_DIR_ANSWER]}}}}}"
    copy_only: list[str] = []
    texts: list[str] = [json.dumps(config)]
    for rel in tree:
        source = root / subdirectory / rel
        is_template = rel.name.endswith(suffix)
        if not is_template and rel.with_name(rel.name + suffix) in tree:
            continue  # Copier renders the templated sibling instead
        name = rel.with_name(rel.name.removesuffix(suffix)) if is_template else rel
        target_rel = _cookiecutter_path(name, context, answers_file)
        if target_rel == POST_GEN_DATA:
            raise ExportError(f"the template has a file named {POST_GEN_DATA}")
        target = dest / project / target_rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if is_template:
            text = source.read_text(encoding="utf-8")
            texts.append(text)
            target.write_text(context.preamble + text, encoding="utf-8", newline="")
            shutil.copymode(source, target)
        else:
            shutil.copy2(source, target)
            copy_only.append(_fnmatch_literal(target_rel))

    top_level = {rel.parts[0] for rel in tree}
    for folder in _shared_dirs(root, files, texts):
        if folder in top_level:
            raise ExportError(f"{folder}/ is both shared Jinja and a folder of the project")
        for f in files:
            if f.parts[0] == folder:
                (dest / SHARED_DIR / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / f, dest / SHARED_DIR / f)

    _write_post_gen_data(dest / project / POST_GEN_DATA, config, context)
    _write_hooks(dest / "hooks", root / "hooks", context)
    shutil.copy2(root / "hooks" / f"{LOCAL_EXTENSION}.py", dest / f"{LOCAL_EXTENSION}.py")
    cookiecutter_json = {
        **context.json,
        "__prompts__": context.prompts,
        "_extensions": [
            *LOCAL_EXTENSIONS,
            *COPIER_EXTENSIONS,
            *config.get("_jinja_extensions", []),
        ],
        "_jinja2_env_vars": envops,
        "_copy_without_render": copy_only,
    }
    (dest / "cookiecutter.json").write_text(
        json.dumps(cookiecutter_json, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return dest


def _write_post_gen_data(path: Path, config: Mapping[str, Any], context: _Context) -> None:
    """A template of the project that renders copier.yml's exclusions and message as
    JSON, for the post-generation hook."""
    text = context.preamble + "{% set _export_exclude = [] %}"
    for exclusion in config.get("_exclude", []):
        text += f"{{% set _text %}}{exclusion}{{% endset %}}"
        text += "{% set _ = _export_exclude.append(_text) %}"
    text += f"{{% set _message %}}{config.get('_message_after_copy', '')}{{% endset %}}"
    text += '{{ {"exclude": _export_exclude, "message": _message} | tojson }}\n'
    path.write_text(text, encoding="utf-8")


def _raw(source: Path) -> str:
    """A hook's Python source, kept from cookiecutter's rendering of hooks."""
    text = source.read_text(encoding="utf-8")
    if "endraw" in text:
        raise ExportError(f"{source} must not contain 'endraw'")
    return "{% raw %}" + text + "{% endraw %}"


def _write_hooks(dest: Path, hooks: Path, context: _Context) -> None:
    dest.mkdir(parents=True)
    # Every question's answer is checked, asked or not: Copier checks every answer it is
    # given, also one to a question its `when` skips.
    reasons = "{% set _reasons = [] %}"
    for name, question, _when_template in context.asked:
        if "validator" in question:
            reasons += (
                f"{{% set _reason %}}{question['validator']}{{% endset %}}"
                f'{{% set _ = _reasons.append(["{name}", _reason]) %}}'
            )
    (dest / "pre_gen_project.py").write_text(
        _raw(hooks / "pre_gen_project.py")
        + context.preamble
        + reasons
        + "\nimport json  # noqa: E402\n\n"
        + "raise SystemExit(main(json.loads(r'''{{ _reasons | tojson }}''')))\n",
        encoding="utf-8",
    )
    (dest / "post_gen_project.py").write_text(
        _raw(hooks / "post_gen_project.py")
        + f"\nraise SystemExit(main(Path.cwd(), {POST_GEN_DATA!r}))\n",
        encoding="utf-8",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="an empty or new folder")
    parser.add_argument(
        "--src-path",
        help="the template's location that generated projects record for `copier update` "
        "(default: this clone's origin URL, or its path)",
    )
    args = parser.parse_args(argv)
    export(args.dest, src_path=args.src_path)
    print(f"Exported to {args.dest}: cookiecutter {args.dest} (see docs/cookiecutter.md)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
