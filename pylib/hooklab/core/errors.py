"""One error type for both mock systems, rendered as JSON with the right status code."""

from __future__ import annotations


class ApiError(Exception):
    """A client mistake or a missing resource: becomes ``{"error": {...}}`` with ``status``.

    ``code`` is machine-readable (``malformed_json``, ``not_found``...); ``message`` says what
    was wrong and what to do instead.
    """

    def __init__(self, status: int, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, **self.details}}

    def __repr__(self) -> str:
        return f"ApiError({self.status}, {self.code!r}, {self.message!r})"
