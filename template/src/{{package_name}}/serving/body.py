"""JSON request bodies that a route reads, limits, parses and documents itself.

FastAPI would read a body in full, parse it with Python's `json` module and then
validate the result. A route that does it itself can refuse an oversized body before
reading it, and have pydantic parse and validate the JSON in one pass, several times
faster. Without a limit, a client could send a body of any size, and the service would
buffer and parse all of it before the batch-size check refused it, holding the process
(and its health check) for seconds. The size is checked twice: against `Content-Length`
before a byte is read, and while reading, for bodies sent without one (chunked).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

JSON_MEDIA_TYPE = "application/json"
SCHEMA_REF = "#/components/schemas/{model}"


def is_json(content_type: str) -> bool:
    """Whether a Content-Type header names JSON (`application/json`, `...+json`)."""
    media_type = content_type.partition(";")[0].strip().lower()
    return media_type == JSON_MEDIA_TYPE or media_type.endswith("+json")


def body_too_large(limit: int) -> HTTPException:
    return HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"the request body is larger than {limit} bytes, the most this service "
        "accepts (MAX_BODY_BYTES); ask for less in one request",
    )


async def read_json_body(request: Request, limit: int) -> bytes:
    """The raw body of a JSON request, refused with 415 or 413 before it is parsed."""
    if not is_json(request.headers.get("content-type", "")):
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"send the body as JSON, with the header Content-Type: {JSON_MEDIA_TYPE}",
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise body_too_large(limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise body_too_large(limit)
    return bytes(body)


@contextmanager
def json_body_errors() -> Iterator[None]:
    """Turn pydantic's errors while it parses and validates a JSON body into answers.

    A body that is not JSON at all (malformed, not UTF-8, nested deeper than the parser
    allows) gets 400; JSON that does not fit the model gets 422 with every problem found.
    """
    try:
        yield
    except ValidationError as error:
        problems = error.errors(include_url=False, include_context=False, include_input=False)
        if problems[0]["type"] == "json_invalid":
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                detail=f"the body is not valid JSON: {problems[0]['msg']}",
            ) from error
        raise RequestValidationError(
            [{**problem, "loc": ("body", *problem["loc"])} for problem in problems]
        ) from error


def openapi_request_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI `requestBody` of a route that reads a JSON `model` itself."""
    schema = {"$ref": SCHEMA_REF.format(model=model.__name__)}
    return {"requestBody": {"required": True, "content": {JSON_MEDIA_TYPE: {"schema": schema}}}}


def add_openapi_schema(openapi: dict[str, Any], model: type[BaseModel]) -> None:
    """Add `model`'s JSON schema, and those of the models it uses, to an OpenAPI document."""
    schema = model.model_json_schema(ref_template=SCHEMA_REF)
    components = openapi.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
