"""RFC 9457 problem details (`application/problem+json`) for every HTTP error."""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    422: "Invalid input",
    428: "Precondition required",
    429: "Too many requests",
    413: "Content too large",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise from a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type_: str = "about:blank",
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type_
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    type_: str = "about:blank",
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": type_,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extensions)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.detail,
            instance=request.url.path,
            type_=exc.type,
            headers=exc.headers,
            **exc.extensions,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            return problem_response(400, "The body is not valid JSON", instance=request.url.path)
        errors = [
            {
                "field": _field(err.get("loc", ())),
                "message": err.get("msg", ""),
                "type": err["type"],
            }
            for err in exc.errors()
        ]
        fields = sorted({e["field"] for e in errors})
        return problem_response(
            422,
            "Invalid fields: " + ", ".join(fields),
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=getattr(exc, "headers", None),
        )


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem document, as every error of the HTTP API is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


def _documented(description: str) -> dict[str, Any]:
    return {
        "model": ProblemDetails,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
    }


# For APIRouter(responses=...): the errors every record route may answer, in OpenAPI.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("The body is not JSON, or Content-Length is not a number"),
    401: _documented("No bearer token, or an invalid or expired one"),
    403: _documented("The caller's role may not do this"),
    404: _documented("No such record for the caller's organisation"),
    409: _documented("Conflict: stale If-Match version, or the record's state forbids it"),
    413: _documented("The body is larger than MAX_BODY_BYTES"),
    422: _documented("Invalid input; `errors` names each bad field"),
    429: _documented("Too many writes for this organisation; see Retry-After"),
}
