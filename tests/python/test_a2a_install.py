"""tuna.a2a installs with the wheel: `import tuna.a2a` and a served agent in a fresh virtual
environment (scripts/test.sh passes the wheel it built as $TUNA_WHEEL)."""

import os
import subprocess
import sys

import pytest


def test_tuna_a2a_in_a_fresh_virtual_environment(tmp_path):
    wheel = os.environ.get("TUNA_WHEEL")
    if not wheel:
        pytest.skip("set TUNA_WHEEL to a built wheel (scripts/test.sh does); test_install covers `pip install .`")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--quiet", wheel, "--no-index", "--no-deps"], check=True, timeout=600)
    code = (
        "import tuna.a2a as a2a\n"
        "agent = a2a.Agent(name='x')\n"
        "agent.handler(lambda ctx, m: 'echo: ' + m.text)\n"
        "with a2a.Server(agent) as s:\n"
        "    r = s.handle({'jsonrpc': '2.0', 'id': 1, 'method': 'SendMessage', 'params': {'message': {\n"
        "        'messageId': 'm', 'role': 'ROLE_USER', 'parts': [{'text': 'hi'}]}}})\n"
        "assert r['result']['message']['parts'] == [{'text': 'echo: hi'}], r\n"
        "print(a2a.__file__)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(venv))
    help_text = subprocess.run([python, "-m", "tuna.a2a", "--help"], capture_output=True, text=True, cwd=tmp_path,
                               timeout=60, env=env)
    assert help_text.returncode == 0 and "serve" in help_text.stdout and "worker" in help_text.stdout
