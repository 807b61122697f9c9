"""Log every served prediction as one JSON line, for monitoring to read later.

Each line holds the time, the model version, the record's features, the predicted class
and the class probabilities. Lines of one request go to the file in a single append, so
several threads or uvicorn worker processes can share one log without mixing lines.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class PredictionLog:
    """Appends predictions to a JSON-lines file, creating its folder when needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(
        self,
        features: Sequence[Mapping[str, float]],
        predictions: Sequence[int],
        probabilities: Sequence[Sequence[float]],
        model_version: str,
    ) -> None:
        timestamp = datetime.now(UTC).isoformat()
        lines = "".join(
            json.dumps(
                {
                    "timestamp": timestamp,
                    "model_version": model_version,
                    "features": record,
                    "prediction": prediction,
                    "probabilities": record_probabilities,
                }
            )
            + "\n"
            for record, prediction, record_probabilities in zip(
                features, predictions, probabilities, strict=True
            )
        )
        with self._lock:
            descriptor = self._open()
            try:
                os.write(descriptor, lines.encode("utf-8"))
            finally:
                os.close(descriptor)

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            return os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, 0o644)


def read_prediction_log(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the logged predictions in the order they were written."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
