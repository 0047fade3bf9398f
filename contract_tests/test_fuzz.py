"""schemathesis fuzzes every operation of openapi.yaml against the app under gunicorn.

No answer may be a 5xx or break the spec. The proxy's key is set, so that requests without it
must be refused; it is sent both as a Bearer token and as x-api-key (Anthropic's header, which
wins when present and which schemathesis would otherwise fill with a random value); a valid body the proxy refuses on purpose (n > 1, tools, ...) is a documented 400,
so the check that every valid body is accepted is left out.
"""
import hypothesis
import pytest
import schemathesis
from schemathesis import checks

from contract_tests.support import ROOT, Server

KEY = "fuzz-key"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("fuzz"), PROXY_API_KEY=KEY)
    yield s
    s.stop()


schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml")


@schema.parametrize()
@hypothesis.settings(max_examples=40, deadline=None, derandomize=True,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_every_operation_keeps_to_the_spec(case, keyed_server):
    case.call_and_validate(base_url=keyed_server.url, headers={"Authorization": f"Bearer {KEY}", "x-api-key": KEY}, timeout=30,
                           excluded_checks=[checks.positive_data_acceptance])
