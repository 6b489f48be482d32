"""The resource codec: manifests (YAML or JSON text, files, dicts) to validated resource dicts.

Decoding is strict, as in the C++ core: an unknown or mistyped field, an unknown enum value or a
missing required field raises InvalidArgumentError whose ``field`` is the path
(``spec.poolSize``) and whose message names the source and line for text.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Union

from . import _tuna
from .errors import InvalidArgumentError, NotFoundError

Resource = Dict[str, Any]
PathLike = Union[str, "os.PathLike[str]"]

_MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


def load_yaml(text: str, source: str = "<string>") -> List[Any]:
    """Parses a YAML (or JSON) stream into plain values, one per non-empty document."""
    return _tuna.parse_yaml(text, source)


def to_yaml(value: Any) -> str:
    """YAML text of a resource dict or any plain value (as `tuna get -o yaml` prints it)."""
    return _tuna.to_yaml(value)


def validate(obj: Resource) -> Resource:
    """Decodes and schema-checks one resource dict; returns it as the API would send it (empty
    metadata fields dropped, spec and status as given). Raises InvalidArgumentError naming the
    field path."""
    return _tuna.validate(obj)


def decode(text: str, source: str = "<string>") -> List[Resource]:
    """Decodes every resource of a YAML/JSON stream (``---`` separated documents; a ``kind: List``
    is expanded). The first bad document raises InvalidArgumentError with ``source:LINE``."""
    return _tuna.decode_manifests(text, source)


def manifest_files(path: PathLike) -> List[str]:
    """A file itself, or every .yaml/.yml/.json file directly in a directory, sorted by name."""
    path = os.fspath(path)
    if os.path.isdir(path):
        names = sorted(n for n in os.listdir(path) if n.endswith(_MANIFEST_SUFFIXES))
        return [os.path.join(path, n) for n in names if os.path.isfile(os.path.join(path, n))]
    if not os.path.exists(path):
        raise NotFoundError(f"{path}: no such file or directory")
    return [path]


def decode_file(path: PathLike) -> List[Resource]:
    """Decodes every resource in a manifest file, or in every manifest file of a directory."""
    out: List[Resource] = []
    for file in manifest_files(path):
        try:
            with open(file, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise InvalidArgumentError(f"{file}: {e.strerror}") from None
        out.extend(decode(text, file))
    return out


def decode_any(source: Any, source_name: Optional[str] = None) -> List[Resource]:
    """Resources from a dict, a list of dicts, YAML/JSON text, or an ``os.PathLike`` path."""
    if isinstance(source, dict):
        return [validate(source)]
    if isinstance(source, str):
        return decode(source, source_name or "<string>")
    if isinstance(source, os.PathLike):
        return decode_file(source)
    if isinstance(source, (list, tuple)):
        out: List[Resource] = []
        for i, item in enumerate(source):
            if isinstance(item, dict):
                try:
                    out.append(validate(item))
                except InvalidArgumentError as e:
                    raise InvalidArgumentError(f"item {i}: {e.message}", e.field) from None
            else:
                out.extend(decode_any(item, source_name))
        return out
    raise TypeError(
        f"expected a resource dict, a list of them, YAML text or a path, got {type(source).__name__}"
    )
