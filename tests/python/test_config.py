"""tuna.Client finds server, token and namespace as the CLI does (docs/cli.md, Configuration)."""

import pytest

import tuna
from tuna import _config


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults(clean_env):
    c = _config.resolve()
    assert (c.server, c.token, c.namespace) == ("http://127.0.0.1:7070", "", "default")
    assert c.server_source == "the default" and not c.config_loaded


def test_config_file_under_home_with_relative_token_file(clean_env):
    write(clean_env / ".config/tuna/token", "secret\n")
    write(clean_env / ".config/tuna/config.yaml", "server: http://h:1\ntoken-file: token\nnamespace: team\n")
    c = _config.resolve()
    assert (c.server, c.token, c.namespace) == ("http://h:1", "secret", "team")
    assert c.config_loaded


def test_xdg_config_home_beats_home(clean_env, monkeypatch, tmp_path):
    write(clean_env / ".config/tuna/config.yaml", "server: http://home:1\n")
    write(tmp_path / "xdg/tuna/config.yaml", "server: http://xdg:1\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert _config.resolve().server == "http://xdg:1"


def test_environment_beats_file_and_arguments_beat_environment(clean_env, monkeypatch, tmp_path):
    write(clean_env / ".config/tuna/config.yaml", "server: http://file:1\ntoken: file-token\nnamespace: f\n")
    monkeypatch.setenv("TUNA_SERVER", "http://env:1")
    monkeypatch.setenv("TUNA_TOKEN_FILE", str(write(tmp_path / "env.token", "env-token")))
    monkeypatch.setenv("TUNA_NAMESPACE", "e")
    c = _config.resolve()
    assert (c.server, c.token, c.namespace) == ("http://env:1", "env-token", "e")
    c = _config.resolve(server="http://arg:1", token="arg-token", namespace="a")
    assert (c.server, c.token, c.namespace) == ("http://arg:1", "arg-token", "a")


def test_token_beats_token_file_within_a_level(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("TUNA_TOKEN", "plain")
    monkeypatch.setenv("TUNA_TOKEN_FILE", str(tmp_path / "missing"))
    assert _config.resolve().token == "plain"


def test_errors(clean_env, monkeypatch, tmp_path):
    write(clean_env / ".config/tuna/config.yaml", "sever: http://typo:1\n")
    with pytest.raises(tuna.FailedPreconditionError, match="sever"):
        _config.resolve()
    with pytest.raises(tuna.FailedPreconditionError, match="does not exist"):
        _config.resolve(config=str(tmp_path / "nope.yaml"))
    monkeypatch.setenv("TUNA_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(tuna.FailedPreconditionError, match="does not exist"):
        _config.resolve()
    with pytest.raises(tuna.FailedPreconditionError, match="cannot read token file"):
        _config.resolve(config=str(write(tmp_path / "c.yaml", "token-file: missing.token\n")))


def test_client_uses_the_config_file_the_server_wrote(tuna_server, clean_env, monkeypatch):
    # `tuna server` writes a config pointing at its token when the user has none (docs/cli.md).
    written = tuna_server.home / ".config" / "tuna" / "config.yaml"
    assert written.exists()
    monkeypatch.setenv("TUNA_CONFIG", str(written))
    client = tuna.Client()
    assert client.server == tuna_server.url
    assert client.config.token == tuna_server.token
    assert client.health() is True
    assert client.version() == tuna.__version__
