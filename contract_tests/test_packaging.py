"""`pip install .` (not editable) into a fresh virtualenv serves from a directory outside the checkout."""
import os
import subprocess
import sys

import pytest
import requests

from contract_tests.support import FIXTURES, ROOT, Server, free_port
from harness.fake_cli import make_fake_cli


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh virtualenv with the project's wheel installed from a build of the checkout."""
    base = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(base / "wheel"),
                    str(ROOT)], check=True, cwd=base, timeout=300)
    [wheel] = (base / "wheel").iterdir()
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True, timeout=120)
    pip = [str(base / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, str(wheel)], check=True, cwd=base, timeout=600)
    return base, wheel


def test_the_wheel_holds_the_server_and_its_spec_but_no_test_stubs(installed):
    import zipfile

    names = zipfile.ZipFile(installed[1]).namelist()
    assert "proxy/openapi.yaml" in names and "proxy/api/openai_chat.py" in names
    assert "proxy/compatibility.json" in names  # the checked CLI versions, for the start-up warning
    assert not [n for n in names if n.startswith(("harness/", "tests/", "contract_tests/"))]


@pytest.mark.parametrize("config", [[], ["-c", "python:proxy.gunicorn_conf"]], ids=["plain", "package-config"])
def test_the_installed_server_answers_outside_the_checkout(installed, config):
    base, _ = installed
    elsewhere = base / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    claude = make_fake_cli(elsewhere, FIXTURES, pace=0)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLAUDE_", "PROXY_", "PYTHON"))}
    env.update(CLAUDE_PATH=claude, PORT=str(port))
    if not config:
        env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port}"  # plain gunicorn binds 8000 otherwise
    server = Server(elsewhere, claude=claude, command=[str(base / "venv" / "bin" / "gunicorn"), *config, "proxy:app"],
                    cwd=elsewhere, port=port, environ=env)
    try:
        assert requests.get(server.url + "/health", timeout=10).json()["status"] == "ok"
        response = requests.post(server.url + "/v1/chat/completions", timeout=30, json={
            "model": "haiku", "messages": [{"role": "user", "content": "Say hi"}]})
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "Hello! How can I help you today?"
    finally:
        server.stop()
