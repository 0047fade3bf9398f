"""The openai npm package iterates a stream through the server and assembles the text the Python SDK does."""
import json
import pathlib
import subprocess

import openai
import pytest

from harness.install_cli import REPO

pytestmark = pytest.mark.integration
OPENAI_NPM = "openai@7.57.0"
SCRIPT = pathlib.Path(__file__).with_name("stream_with_openai_npm.mjs")


@pytest.fixture(scope="session")
def node_script():
    prefix = pathlib.Path(REPO) / ".cache" / "node-openai"
    if not (prefix / "node_modules" / "openai" / "package.json").exists():
        subprocess.run(["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--loglevel=error",
                       OPENAI_NPM], check=True, timeout=300)
    # ES modules resolve packages next to the importing file, so the script runs from the prefix.
    script = prefix / SCRIPT.name
    script.write_text(SCRIPT.read_text())
    return script


def test_npm_and_python_sdks_assemble_the_same_stream(server, node_script):
    prompt = "Count [stub:slow]"
    done = subprocess.run(["node", str(node_script), server.url + "/v1", prompt], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    from_node = json.loads(done.stdout)
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="any-key", max_retries=0)
    from_python = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="haiku", stream=True, messages=[{"role": "user", "content": prompt}]) if c.choices)
    assert from_node == {"text": "one two three four five six", "finish": "stop"}
    assert from_python == from_node["text"]
