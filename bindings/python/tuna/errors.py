"""Exceptions raised by tuna: one class per tuna::StatusCode, all under TunaError.

Several also derive from the built-in exception a Python programmer would catch for the same
failure (``LookupError`` for NotFoundError, ``ValueError`` for InvalidArgumentError,
``TimeoutError`` for DeadlineExceededError, ``ConnectionError`` for UnavailableError,
``PermissionError`` for PermissionDeniedError).
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple, Type


class TunaError(Exception):
    """Base of every tuna error.

    Attributes: ``code`` (the status code name, e.g. ``"not_found"``), ``message`` (the server's
    or the library's message, which starts with the field path when there is one), ``field`` (the
    field path the error is about, e.g. ``"spec.environmentName"``, or None).
    """

    code: str = "unknown"
    reason: str = "Unknown"

    def __init__(self, message: str = "", field: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field or None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        if self.field:
            return f"{type(self).__name__}({self.message!r}, field={self.field!r})"
        return f"{type(self).__name__}({self.message!r})"

    def __reduce__(self) -> Tuple[Type["TunaError"], Tuple[str, Optional[str]]]:  # pickles (e.g. across multiprocessing) with its field
        return (type(self), (self.message, self.field))


class InvalidArgumentError(TunaError, ValueError):
    """Bad input: a manifest that does not decode or validate (HTTP 400/422); ``field`` names the path."""

    code, reason = "invalid_argument", "Invalid"


class NotFoundError(TunaError, LookupError):
    """The object (or kind, or file) does not exist (HTTP 404)."""

    code, reason = "not_found", "NotFound"


class AlreadyExistsError(TunaError):
    """Create of an object that exists (HTTP 409 AlreadyExists)."""

    code, reason = "already_exists", "AlreadyExists"


class ConflictError(TunaError):
    """A stale resourceVersion or a concurrent claim (HTTP 409 Conflict): read again and retry."""

    code, reason = "conflict", "Conflict"


#: gRPC's name for the same failure (a concurrency conflict aborted the operation).
AbortedError = ConflictError


class GoneError(TunaError):
    """A watch from a resourceVersion older than the server's event window (HTTP 410): re-list."""

    code, reason = "gone", "Gone"


class UnauthenticatedError(TunaError):
    """No token, or a wrong one (HTTP 401)."""

    code, reason = "unauthenticated", "Unauthorized"


class PermissionDeniedError(TunaError, PermissionError):
    """The token may not do this (HTTP 403)."""

    code, reason = "permission_denied", "Forbidden"


class ResourceExhaustedError(TunaError):
    """A limit was hit: rate, size, open watches (HTTP 429/413)."""

    code, reason = "resource_exhausted", "TooManyRequests"


class FailedPreconditionError(TunaError):
    """The current state does not allow the operation (HTTP 412), or an unreadable token file or config."""

    code, reason = "failed_precondition", "PreconditionFailed"


class DeadlineExceededError(TunaError, TimeoutError):
    """The call or the server timed out (HTTP 504)."""

    code, reason = "deadline_exceeded", "Timeout"


class UnavailableError(TunaError, ConnectionError):
    """The server cannot be reached or is not ready (connection refused, HTTP 503)."""

    code, reason = "unavailable", "ServiceUnavailable"


class CancelledError(TunaError):
    """The operation was cancelled (HTTP 499)."""

    code, reason = "cancelled", "Cancelled"


class UnimplementedError(TunaError, NotImplementedError):
    """The server does not implement this (HTTP 501)."""

    code, reason = "unimplemented", "NotImplemented"


class InternalError(TunaError):
    """A bug or an unexpected failure on the server or in the library (HTTP 500)."""

    code, reason = "internal", "InternalError"


_BY_CODE: Dict[str, Type[TunaError]] = {
    cls.code: cls
    for cls in (
        InvalidArgumentError, NotFoundError, AlreadyExistsError, ConflictError, GoneError,
        UnauthenticatedError, PermissionDeniedError, ResourceExhaustedError, FailedPreconditionError,
        DeadlineExceededError, UnavailableError, CancelledError, UnimplementedError, InternalError,
    )
}


def error_class(code: str) -> Type[TunaError]:
    """The exception class for a status code name (``"not_found"`` -> NotFoundError)."""
    return _BY_CODE.get(code, TunaError)


def _from_status(code: str, message: str, field: str) -> TunaError:
    # Called by the compiled module for every non-OK tuna::Status it raises.
    return error_class(code)(message, field or None)


__all__ = [
    "TunaError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError", "ConflictError",
    "AbortedError", "GoneError", "UnauthenticatedError", "PermissionDeniedError",
    "ResourceExhaustedError", "FailedPreconditionError", "DeadlineExceededError", "UnavailableError",
    "CancelledError", "UnimplementedError", "InternalError", "error_class",
]
