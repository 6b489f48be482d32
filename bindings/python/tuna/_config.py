"""Where a tuna.Client finds its server, token and namespace: the `tuna` CLI's rules.

Each setting comes from the first place that has it (docs/cli.md): the arguments, the environment
(TUNA_SERVER, TUNA_TOKEN, TUNA_TOKEN_FILE, TUNA_NAMESPACE, TUNA_CONFIG), the config file
($TUNA_CONFIG, else $XDG_CONFIG_HOME/tuna/config.yaml, else ~/.config/tuna/config.yaml), the
defaults. Within one level a token beats a token file. This mirrors src/cli/config.cpp.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Mapping, Optional

from . import _tuna
from .errors import FailedPreconditionError, TunaError

DEFAULT_SERVER = "http://127.0.0.1:7070"
DEFAULT_NAMESPACE = "default"
_KEYS = ("server", "token", "token-file", "namespace")


@dataclass
class Config:
    """The resolved settings, with where each came from (for messages)."""

    server: str
    server_source: str
    token: str
    token_source: str
    namespace: str
    config_path: str
    config_loaded: bool


def _env(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name)
    return value if value else None  # an empty variable counts as unset, as in the CLI


def default_config_path(env: Optional[Mapping[str, str]] = None) -> str:
    """The config file path the CLI would use ("" when no variable says where)."""
    env = os.environ if env is None else env
    if path := _env(env, "TUNA_CONFIG"):
        return path
    if xdg := _env(env, "XDG_CONFIG_HOME"):
        return os.path.join(xdg, "tuna", "config.yaml")
    if home := _env(env, "HOME"):
        return os.path.join(home, ".config", "tuna", "config.yaml")
    return ""


def _read_token(path: str, source: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except OSError as e:
        raise FailedPreconditionError(
            f"cannot read token file {path}: {e.strerror} (from {source}); fix the path or pass token="
        ) from None
    if not token:
        raise FailedPreconditionError(f"token file {path} (from {source}) is empty")
    return token


def _load_file(path: str) -> Dict[str, str]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise FailedPreconditionError(f"config file {path}: {e.strerror}") from None
    try:
        docs = _tuna.parse_yaml(text, path)
    except TunaError as e:
        raise FailedPreconditionError(f"config file {e.message}") from None
    if not docs or docs[0] is None:
        return {}
    if len(docs) > 1:
        raise FailedPreconditionError(f"config file {path}: expected one YAML document")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise FailedPreconditionError(f"config file {path}: expected a mapping of settings")
    out: Dict[str, str] = {}
    for key, value in doc.items():
        if key not in _KEYS:
            raise FailedPreconditionError(
                f"config file {path}: unknown field (expected one of {', '.join(_KEYS)}): {key}"
            )
        if not isinstance(value, str):
            raise FailedPreconditionError(f"config file {path}: {key}: expected a string")
        if key == "token-file" and not os.path.isabs(value):
            value = os.path.join(os.path.dirname(path), value)  # relative to the config file
        out[key] = value
    return out


def resolve(
    server: Optional[str] = None,
    token: Optional[str] = None,
    token_file: Optional[str] = None,
    namespace: Optional[str] = None,
    config: Optional[str] = None,
    env: Optional[Mapping[str, str]] = None,
) -> Config:
    """Resolves the settings as `tuna --server/--token/--token-file/-n/--config` would."""
    env = os.environ if env is None else env
    config_path = config if config is not None else default_config_path(env)
    file: Dict[str, str] = {}
    loaded = False
    if config_path:
        if os.path.exists(config_path):
            file, loaded = _load_file(config_path), True
        elif config is not None or _env(env, "TUNA_CONFIG"):
            raise FailedPreconditionError(f"config file {config_path} does not exist")
    file_source = f"config file {config_path}"

    if server is not None:
        server_value, server_source = server, "server="
    elif v := _env(env, "TUNA_SERVER"):
        server_value, server_source = v, "TUNA_SERVER"
    elif "server" in file:
        server_value, server_source = file["server"], file_source
    else:
        server_value, server_source = DEFAULT_SERVER, "the default"

    token_value, token_source = "", ""
    levels = (
        (token, token_file, "token=", "token_file="),
        (_env(env, "TUNA_TOKEN"), _env(env, "TUNA_TOKEN_FILE"), "TUNA_TOKEN", "TUNA_TOKEN_FILE"),
        (file.get("token"), file.get("token-file"), file_source, file_source),
    )
    for level_token, level_file, source, file_src in levels:
        if level_token is not None:
            token_value, token_source = level_token, source
            break
        if level_file is not None:
            token_value = _read_token(level_file, file_src)
            token_source = f"{file_src} ({level_file})"
            break

    if namespace is not None:
        ns = namespace
    elif v := _env(env, "TUNA_NAMESPACE"):
        ns = v
    else:
        ns = file.get("namespace", DEFAULT_NAMESPACE)
    if not ns:
        raise FailedPreconditionError("the namespace must not be empty")
    return Config(server_value, server_source, token_value, token_source, ns, config_path, loaded)
