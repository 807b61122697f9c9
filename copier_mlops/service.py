"""The prediction service's contract (service.yml, included by copier.yml as `service`):
the port it listens on, its endpoints' paths and the settings the image sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from copier_mlops import ROOT
from copier_mlops.config import load_copier_config


@dataclass(frozen=True)
class Service:
    port: int
    #: Endpoint paths by role: health, ready, predict, metrics, docs.
    paths: dict[str, str]
    #: Settings by role (model, prediction_log), named as the project's settings name them.
    settings: dict[str, str]

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Service:
        data = config["service"]["default"]
        return cls(
            port=int(data["port"]), paths=dict(data["paths"]), settings=dict(data["settings"])
        )

    def env_name(self, prefix: str, setting: str) -> str:
        """The environment variable that sets a setting by role, for a project whose
        settings take `prefix` (such as "MY_PROJECT_"): MY_PROJECT_MODEL_URI."""
        return f"{prefix}{self.settings[setting]}".upper()


def load_service(root: Path = ROOT) -> Service:
    """The contract as copier.yml (of the template repository at `root`) includes it
    from service.yml."""
    return Service.from_config(load_copier_config(root))


SERVICE = load_service()
