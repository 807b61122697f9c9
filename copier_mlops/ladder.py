"""components.yml's ladder and the rule that switches its components on.

A component is on when the chosen stage is at or past its `stage`, the chosen team size
is at or past its `team`, and every answer its `only` names is one of the values listed
there. copier.yml derives the `components` answer with the same rule in Jinja; a test
renders copier.yml's derivation for every combination of answers and compares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from copier_mlops import ROOT
from copier_mlops.config import choice_values, load_copier_config

#: The questions the two ordered ladders answer; every other question with choices is an
#: unordered choice that a component's `only` may name.
STAGE_QUESTION = "maturity_stage"
TEAM_QUESTION = "team_size"


@dataclass(frozen=True)
class Ladder:
    """Stages and team sizes in order, the components as components.yml declares them
    (every key, including those this module does not read), and the unordered choices
    with their allowed values and defaults."""

    stages: list[str]
    team_sizes: list[str]
    components: dict[str, dict[str, Any]]
    choices: dict[str, list[str]]
    defaults: dict[str, str]

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], ladder: Mapping[str, Any] | None = None
    ) -> Ladder:
        """The ladder copier.yml includes (or `ladder`, a replacement for it), with the
        unordered choices of copier.yml's questions."""
        data = config["ladder"]["default"] if ladder is None else ladder
        unordered = {
            name: question
            for name, question in config.items()
            if isinstance(question, Mapping)
            and "choices" in question
            and name not in {STAGE_QUESTION, TEAM_QUESTION}
        }
        return cls(
            stages=list(data["stages"]),
            team_sizes=list(data["team_sizes"]),
            components=dict(data["components"]),
            choices={name: choice_values(question) for name, question in unordered.items()},
            defaults={name: str(question["default"]) for name, question in unordered.items()},
        )

    def requires(self, name: str) -> list[str]:
        """The components `name` cannot work without."""
        return list(self.components[name].get("requires", []))

    def claimants(self, path: str) -> list[str]:
        """The components whose `paths` claim `path` (relative to the generated project,
        `*` in the claims standing for the package folder)."""
        return [
            name
            for name, component in self.components.items()
            if pathspec.GitIgnoreSpec.from_lines(component.get("paths", [])).match_file(path)
        ]

    def owner(self, path: str) -> str | None:
        """The component whose own file `path` is, or None for a file no component claims.

        Claims may nest: a component can claim files inside a folder claimed by a
        component it requires (model alert rules inside the observability folder), and
        then owns them. Any other double claim is an error in components.yml.
        """
        claimants = self.claimants(path)
        inner = [
            name
            for name in claimants
            if all(other in self.requires(name) for other in claimants if other != name)
        ]
        if claimants and len(inner) != 1:
            msg = f"{path} is claimed by {claimants}, none of which requires the others"
            raise ValueError(msg)
        return inner[0] if inner else None

    def only(self, name: str) -> dict[str, list[str]]:
        """The unordered answers `name` is conditioned on, with the values it allows."""
        only = self.components[name].get("only", {})
        return {str(question): [str(v) for v in allowed] for question, allowed in only.items()}

    def only_questions(self) -> list[str]:
        """The unordered questions some component's `only` names, in copier.yml's order."""
        named = {question for name in self.components for question in self.only(name)}
        return [question for question in self.choices if question in named]

    def components_on(
        self, stage: str, team_size: str, answers: Mapping[str, Any] | None = None
    ) -> set[str]:
        """The components switched on for a stage, a team size and the unordered answers.

        `answers` maps unordered questions to their answers (such as {"license": "MIT"});
        other keys, such as the rest of a project's answers, are ignored, and a question
        left out takes copier.yml's default, as `copier copy --defaults` does.
        """
        if stage not in self.stages:
            raise ValueError(f"unknown stage {stage!r}: one of {self.stages}")
        if team_size not in self.team_sizes:
            raise ValueError(f"unknown team size {team_size!r}: one of {self.team_sizes}")
        chosen = dict(self.defaults)
        for question, answer in (answers or {}).items():
            if question in self.choices:
                if str(answer) not in self.choices[question]:
                    raise ValueError(
                        f"{question}={answer!r} is not one of {self.choices[question]}"
                    )
                chosen[question] = str(answer)
        return {
            name
            for name in self.components
            if self._level(name, "stage", self.stages) <= self.stages.index(stage)
            and self._level(name, "team", self.team_sizes) <= self.team_sizes.index(team_size)
            and self._only_met(name, chosen)
        }

    def _level(self, name: str, key: str, levels: list[str]) -> int:
        """A component's first stage or team size, as a position on its ladder."""
        level = self.components[name].get(key)
        if level not in levels:
            raise ValueError(f"{name}: {key} {level!r} is not one of {levels}")
        return levels.index(level)

    def _only_met(self, name: str, chosen: Mapping[str, str]) -> bool:
        for question, allowed in self.only(name).items():
            if question not in chosen:
                raise ValueError(f"{name}: `only` names {question!r}, not a question with choices")
            if chosen[question] not in allowed:
                return False
        return True

    def stages_with(self, component: str, answers: Mapping[str, Any] | None = None) -> list[str]:
        """The stages at which a component is on for the smallest team."""
        return [
            stage
            for stage in self.stages
            if component in self.components_on(stage, self.team_sizes[0], answers)
        ]


def load_ladder(root: Path = ROOT) -> Ladder:
    """The ladder as copier.yml (of the template repository at `root`) includes it from
    components.yml."""
    return Ladder.from_config(load_copier_config(root))


LADDER = load_ladder()
STAGES = LADDER.stages
TEAM_SIZES = LADDER.team_sizes


def components_on(stage: str, team_size: str, answers: Mapping[str, Any] | None = None) -> set[str]:
    """The components switched on for these answers (see `Ladder.components_on`)."""
    return LADDER.components_on(stage, team_size, answers)


def stages_with(component: str, answers: Mapping[str, Any] | None = None) -> list[str]:
    """The stages at which a component is on for the smallest team."""
    return LADDER.stages_with(component, answers)
