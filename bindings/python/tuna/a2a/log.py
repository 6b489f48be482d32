"""Structured logging for handlers: ``ctx.log.info("fetched", url=url, ms=12)`` writes one JSON
object per line to stderr, which the pool sends to the log ``tuna logs`` shows.

Every line has ``ts`` (RFC 3339 UTC), ``level``, ``msg`` and the bound fields (``agent``,
``task_id``, ``context_id`` for a handler's logger), then the call's keyword arguments (values
that JSON cannot hold are written with ``repr``). The level comes from ``TUNA_LOG_LEVEL``, else
``LOG_LEVEL`` (debug, info, warning, error; default info).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from typing import Any, Dict, Optional, TextIO

_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40}
_lock = threading.Lock()


def _threshold() -> int:
    name = (os.environ.get("TUNA_LOG_LEVEL") or os.environ.get("LOG_LEVEL") or "info").strip().lower()
    return _LEVELS.get(name, 20)


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


class Logger:
    """A JSON-lines logger with bound fields. ``bind(**fields)`` gives a child logger."""

    __slots__ = ("_fields", "_stream", "_level")

    def __init__(self, fields: Optional[Dict[str, Any]] = None, stream: Optional[TextIO] = None,
                 level: Optional[int] = None) -> None:
        self._fields = dict(fields or {})
        self._stream = stream
        self._level = _threshold() if level is None else level

    def bind(self, **fields: Any) -> "Logger":
        """A logger that adds ``fields`` to every line."""
        return Logger({**self._fields, **fields}, self._stream, self._level)

    def enabled(self, level: str) -> bool:
        return _LEVELS.get(level, 20) >= self._level

    def log(self, level: str, msg: str, **fields: Any) -> None:
        if _LEVELS.get(level, 20) < self._level:
            return
        record = {"ts": _timestamp(), "level": level, "msg": msg, **self._fields, **fields}
        line = json.dumps(record, default=repr, ensure_ascii=False)
        stream = self._stream or sys.stderr
        with _lock:
            stream.write(line + "\n")
            stream.flush()

    def debug(self, msg: str, **fields: Any) -> None:
        self.log("debug", msg, **fields)

    def info(self, msg: str, **fields: Any) -> None:
        self.log("info", msg, **fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self.log("warning", msg, **fields)

    warn = warning

    def error(self, msg: str, **fields: Any) -> None:
        self.log("error", msg, **fields)

    def exception(self, msg: str, exc: Optional[BaseException] = None, **fields: Any) -> None:
        """An error line with the exception's type, message and traceback (``exc``, else the one
        being handled)."""
        if exc is None:
            exc = sys.exc_info()[1]
        if exc is not None:
            fields.setdefault("error", f"{type(exc).__name__}: {exc}")
            fields.setdefault("traceback", "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        self.log("error", msg, **fields)


#: The runtime's own logger (``{"logger": "tuna.a2a"}``).
runtime_log = Logger({"logger": "tuna.a2a"})

__all__ = ["Logger", "runtime_log"]
