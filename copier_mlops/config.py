"""copier.yml as Copier reads it: its YAML documents merged, `!include`s resolved."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from copier_mlops import ROOT

# Settings Copier collects from every document instead of letting the last one win.
_CONCATENATED = ("_exclude", "_jinja_extensions", "_secret_questions", "_skip_if_exists")


def _loader(root: Path) -> type[yaml.SafeLoader]:
    """A safe YAML loader whose `!include` reads the documents of the files a glob
    relative to `root` matches, as Copier's does."""

    class Loader(yaml.SafeLoader):
        pass

    def include(loader: yaml.SafeLoader, node: yaml.Node) -> list[Any]:
        pattern = str(loader.construct_scalar(node))  # type: ignore[arg-type]
        if PurePosixPath(pattern).is_absolute():
            raise ValueError(f"!include {pattern}: must be relative to {root}")
        documents: list[Any] = []
        for path in sorted(root.glob(pattern)):
            if not path.resolve().is_relative_to(root.resolve()):
                raise ValueError(f"!include {pattern}: {path} is outside {root}")
            documents += _flatten(yaml.load_all(path.read_bytes(), Loader=Loader))
        return documents

    Loader.add_constructor("!include", include)
    return Loader


def _flatten(documents: Any) -> list[Mapping[str, Any]]:
    """Documents in order, the lists an `!include` stands for spliced in, empty ones out."""
    flat: list[Mapping[str, Any]] = []
    for document in documents:
        if isinstance(document, list):
            flat += _flatten(document)
        elif document:
            flat.append(document)
    return flat


def load_copier_config(root: Path = ROOT) -> dict[str, Any]:
    """copier.yml's settings and questions, merged over its documents: a later document
    wins, except for the settings Copier concatenates (such as `_exclude`)."""
    text = (root / "copier.yml").read_bytes()
    documents = _flatten(yaml.load_all(text, Loader=_loader(root)))
    merged: dict[str, Any] = {}
    for document in documents:
        merged.update(document)
    for key in _CONCATENATED:
        values = [value for document in documents for value in document.get(key, [])]
        if values:
            merged[key] = values
    return merged


def choice_values(question: Mapping[str, Any]) -> list[str]:
    """A question's allowed answers: its `choices` list, or the values of its labels."""
    choices = question["choices"]
    values = choices.values() if isinstance(choices, Mapping) else choices
    return [str(value) for value in values]
