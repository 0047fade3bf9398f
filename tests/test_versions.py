"""The startup check warns when the CLI's version failed its upgrade check or is outside the range that passed."""
import json
import logging

import pytest

from proxy import create_app, versions
from tests.support import CLAUDE, PINNED, ROOT, register_start


@pytest.fixture
def record(tmp_path):
    """A record of checked versions: 2.1.99 and 2.1.330 passed, 2.1.200 failed, 2.1.300 only diffed; 2.1.250 pinned."""
    entries = [{"version": "2.1.330", "passed": True}, {"version": "2.1.300", "passed": False, "report": None},
               {"version": "2.1.200", "passed": False, "report": "fixtures/diff-2.1.250-2.1.200.md"},
               {"version": "2.1.99", "passed": True}]
    path = tmp_path / "compatibility.json"
    path.write_text(json.dumps({"package": "@anthropic-ai/claude-code", "pinned": "2.1.250", "versions": entries}))
    return path


def warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_known_versions_are_those_that_passed_and_the_pinned_one_in_numeric_order(record):
    passed, failed = versions.known(record)
    assert passed == ["2.1.99", "2.1.250", "2.1.330"]
    assert failed == {"2.1.300": None, "2.1.200": "fixtures/diff-2.1.250-2.1.200.md"}


@pytest.mark.parametrize("version", ["2.1.99", "2.1.150", "2.1.250", "2.1.330"])
def test_a_version_inside_the_passing_range_is_not_reported(record, caplog, version):
    versions.check(version, record)
    assert warnings(caplog) == []


@pytest.mark.parametrize("version", ["2.1.98", "2.1.331", "3.0.0", "2.1.330-beta"])
def test_a_version_outside_the_range_names_the_range_and_the_check(record, caplog, version):
    versions.check(version, record)
    [message] = warnings(caplog)
    assert f"version {version}, outside" in message
    assert "2.1.99..2.1.330" in message and "2.1.99, 2.1.250, 2.1.330" in message
    assert f"tox -e cli -- {version}" in message


@pytest.mark.parametrize("version, where", [("2.1.200", "fixtures/diff-2.1.250-2.1.200.md"),
                                            ("2.1.300", "tox -e cli -- 2.1.300")])
def test_a_version_that_failed_its_check_is_reported_though_inside_the_range(record, caplog, version, where):
    versions.check(version, record)
    [message] = warnings(caplog)
    assert f"version {version}, which failed" in message and where in message and "2.1.99..2.1.330" in message


@pytest.mark.parametrize("version", [None, ""])
def test_no_version_is_left_to_the_health_check(record, caplog, version):
    versions.check(version, record)
    assert warnings(caplog) == []


def test_without_a_record_nothing_is_said(tmp_path, caplog):
    versions.check("9.9.9", tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{")
    versions.check("9.9.9", tmp_path / "broken.json")
    assert warnings(caplog) == []


def test_the_package_carries_the_record_the_upgrade_check_writes():
    # proxy/compatibility.json is package data (a link in a checkout, a copy in a wheel).
    assert json.loads(versions.RECORD.read_text()) == json.loads((ROOT / "fixtures" / "compatibility.json").read_text())
    assert json.loads(versions.RECORD.read_text())["pinned"] == PINNED
    assert PINNED in versions.known()[0]


def test_the_app_warns_at_startup_about_an_unchecked_cli(fp, settings, caplog):
    register_start(fp, "9.0.0")
    app = create_app(settings)
    assert app.extensions["cli_version"] == "9.0.0"
    assert any("version 9.0.0, outside" in m and "tox -e cli -- 9.0.0" in m for m in warnings(caplog))


def test_the_app_is_quiet_about_the_pinned_cli(fp, settings, caplog):
    register_start(fp)
    create_app(settings)
    assert warnings(caplog) == []
