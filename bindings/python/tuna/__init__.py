"""tuna for Python: the API client, the resource codec and typed errors over tuna's C++ core.

    import tuna
    client = tuna.Client()                       # settings as the `tuna` CLI finds them
    client.apply(pathlib.Path("examples/manifests"))
    echo = client.get("agentdeployment", "echo")  # a plain dict
    with client.watch("agentbuilds") as w:
        for event in w:
            print(event.type, event.object["metadata"]["name"])

See docs/python.md.
"""

from __future__ import annotations

from typing import Any, Dict, List

from . import _tuna
from .client import ApplyResult, Client, Watch, WatchEvent, canonical_kind, qualified_name
from .codec import decode, decode_file, load_yaml, to_yaml, validate
from .errors import (
    AbortedError,
    AlreadyExistsError,
    CancelledError,
    ConflictError,
    DeadlineExceededError,
    FailedPreconditionError,
    GoneError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    TunaError,
    UnauthenticatedError,
    UnavailableError,
    UnimplementedError,
    error_class,
)

__version__: str = _tuna.__version__

API_VERSION = "tuna.ai/v1alpha1"


def kinds() -> List[Dict[str, Any]]:
    """The nine kinds: dicts with kind, plural, singular, short_names, namespaced."""
    return _tuna.kinds()


__all__ = [
    "__version__", "API_VERSION", "Client", "Watch", "WatchEvent", "ApplyResult", "canonical_kind",
    "qualified_name", "kinds", "decode", "decode_file", "load_yaml", "to_yaml", "validate",
    "TunaError", "InvalidArgumentError", "NotFoundError", "AlreadyExistsError", "ConflictError",
    "AbortedError", "GoneError", "UnauthenticatedError", "PermissionDeniedError",
    "ResourceExhaustedError", "FailedPreconditionError", "DeadlineExceededError", "UnavailableError",
    "CancelledError", "UnimplementedError", "InternalError", "error_class",
]
