"""Log every served prediction, for monitoring to read later.

Each request the service answers becomes one JSON line: the time, the request's id, the
request's body as the client sent it and the response as the service answered it (the
predictions and the model version). `read_prediction_log` turns the lines back into one
entry per prediction, each with an id of its own (`prediction_id`): the request's id and
the prediction's place in the answer, such as `3f2a…/0` for the first. Labels that
arrive later name the prediction they belong to by that id. A
line goes to the file in a single append, so several threads or uvicorn worker processes
can share one log without mixing lines.

The log is on the path of every prediction, so it writes what the service already has:
the request body pydantic has validated and the response body it has serialised. Writing
each record out again as JSON took longer than predicting it. The file stays open between
requests, and is opened again when it has been moved or deleted (log rotation).
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import task
from .request import logged_inputs

# Line breaks in a JSON document can only be whitespace between its tokens (inside strings
# they are escaped), so a body keeps its meaning with them turned into spaces.
LINE_BREAKS_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
# The header a client may name its request by, and the service answers with the id it
# logged: the client's, when it is a plain token of at most 64 characters, else a new one.
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,64}")
# Between the request's id and the prediction's place in its answer, in a prediction's id.
ID_SEPARATOR = "/"


def request_id(asked: str | None) -> str:
    """The id to log a request under: `asked` (the client's header) when it is a plain
    token, else a new random one. Never refuses: a bad id is no reason to fail a prediction."""
    if asked is not None and REQUEST_ID_PATTERN.fullmatch(asked):
        return asked
    return uuid.uuid4().hex


def prediction_id(request: str, position: int) -> str:
    """The id of the prediction at `position` (from 0) in the answer to request `request`."""
    return f"{request}{ID_SEPARATOR}{position}"


def on_one_line(document: bytes) -> bytes:
    """A JSON document with its line breaks, if any, turned into spaces."""
    if b"\n" in document or b"\r" in document:
        return document.translate(LINE_BREAKS_TO_SPACES)
    return document


class PredictionLog:
    """Appends served predictions to a JSON-lines file, creating its folder when needed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        # The open file's descriptor, and which file it is (to notice rotation).
        self._file: tuple[int, os.stat_result] | None = None

    def append(self, request: bytes, response: bytes, request_id: str) -> None:
        """Log one answered request: its JSON body, already parsed, the JSON answer, and
        the request's id (see `request_id`).

        Both bodies must be valid JSON documents (as the service has checked): they are
        written into the line as they are.
        """
        line = b'{"timestamp":%b,"request_id":%b,"request":%b,"response":%b}\n' % (
            json.dumps(datetime.now(UTC).isoformat()).encode(),
            json.dumps(request_id).encode(),
            on_one_line(request),
            on_one_line(response),
        )
        with self._lock:
            os.write(self._descriptor(), line)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                os.close(self._file[0])
                self._file = None

    def _descriptor(self) -> int:
        """The open log file, opened again if the file at `path` is no longer it."""
        if self._file is not None:
            descriptor, opened = self._file
            try:
                if os.path.samestat(self.path.stat(), opened):
                    return descriptor
            except FileNotFoundError:
                pass
            os.close(descriptor)
            self._file = None
        descriptor = self._open()
        self._file = (descriptor, os.fstat(descriptor))
        return descriptor

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            return os.open(self.path, flags, 0o644)
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, flags, 0o644)


def read_prediction_log(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the logged predictions one by one, in the order they were served.

    Each holds the time of the request, the prediction's id (`prediction_id`; None for
    lines logged before requests had ids), the model version, what was asked (in the
    fields `request.logged_inputs` gives it, such as a record's features) and the prediction for
    it, in the fields `task.logged_predictions` gives it.
    """
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.strip():
                continue
            logged = json.loads(line)
            request, response = logged["request"], logged["response"]
            served_as = logged.get("request_id")
            for position, (asked, prediction) in enumerate(
                zip(logged_inputs(request), task.logged_predictions(response), strict=True)
            ):
                yield {
                    "timestamp": logged["timestamp"],
                    "prediction_id": (
                        None if served_as is None else prediction_id(served_as, position)
                    ),
                    "model_version": response["model_version"],
                    **asked,
                    **prediction,
                }
