"""What every benchmark runs against: the pinned CLI and a StubUpstream served from this process, with
this process's environment pointed at the stub, so that the CLIs run from here and the servers
started from here inherit the same values."""
import contextlib
import os
import shutil
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harness.install_cli import ensure_cli  # noqa: E402
from harness.stub_upstream import StubUpstream  # noqa: E402

CLI_VERSION = open(os.path.join(ROOT, "fixtures", "PINNED"), encoding="utf-8").read().strip()
# Credentials and switches of this machine's own login that would take the CLI elsewhere than the stub.
FOREIGN_ENV = ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN", "CLAUDE_CONFIG_DIR", "PROXY_API_KEY",
               "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")


@contextlib.contextmanager
def against_stub():
    """Yield (the pinned CLI's path, the stub, an empty HOME) with the environment set; remove HOME after."""
    claude = ensure_cli(CLI_VERSION)
    home = tempfile.mkdtemp(prefix="bench-home-")
    try:
        with StubUpstream() as stub:
            for name in FOREIGN_ENV:
                os.environ.pop(name, None)
            os.environ.update(ANTHROPIC_BASE_URL=stub.url, ANTHROPIC_API_KEY="sk-test", HOME=home)
            yield claude, stub, home
    finally:
        shutil.rmtree(home, ignore_errors=True)
