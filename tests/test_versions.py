"""The startup check warns when the CLI's version is outside the recorded versions, and only then."""
import logging

import pytest

from proxy import create_app, versions
from tests.support import CLAUDE, PINNED, register_start


@pytest.fixture
def fixtures(tmp_path):
    for version in ("2.1.328", "2.1.330", "2.1.99"):
        (tmp_path / f"cli-{version}").mkdir()
    (tmp_path / ".cli-9.9.9-x7q").mkdir()  # a recording in progress
    (tmp_path / "cli-9.9.9").write_text("")  # not a directory of recordings
    return tmp_path


def warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_covered_versions_come_from_the_directory_names_in_numeric_order(fixtures):
    assert versions.covered(fixtures) == ["2.1.99", "2.1.328", "2.1.330"]


@pytest.mark.parametrize("version", ["2.1.99", "2.1.200", "2.1.330"])
def test_a_version_inside_the_recorded_range_is_not_reported(fixtures, caplog, version):
    versions.check(version, fixtures)
    assert warnings(caplog) == []


@pytest.mark.parametrize("version", ["2.1.98", "2.1.331", "3.0.0", "2.1.330-beta"])
def test_a_version_outside_the_range_names_the_range_and_the_check(fixtures, caplog, version):
    versions.check(version, fixtures)
    [message] = warnings(caplog)
    assert f"version {version}, outside" in message
    assert "2.1.99..2.1.330" in message
    assert f"tox -e cli -- {version}" in message


@pytest.mark.parametrize("version", [None, ""])
def test_no_version_is_left_to_the_health_check(fixtures, caplog, version):
    versions.check(version, fixtures)
    assert warnings(caplog) == []


def test_without_fixtures_as_in_an_installed_wheel_nothing_is_said(tmp_path, caplog):
    versions.check("9.9.9", tmp_path / "absent")
    versions.check("9.9.9", tmp_path)
    assert warnings(caplog) == []


def test_the_repository_fixtures_cover_the_pinned_version():
    assert PINNED in versions.covered()


def test_the_app_warns_at_startup_about_an_unrecorded_cli(fp, settings, caplog):
    register_start(fp, "9.0.0")
    app = create_app(settings)
    assert app.extensions["cli_version"] == "9.0.0"
    assert any("version 9.0.0, outside" in m and "tox -e cli -- 9.0.0" in m for m in warnings(caplog))


def test_the_app_is_quiet_about_the_pinned_cli(fp, settings, caplog):
    register_start(fp)
    create_app(settings)
    assert warnings(caplog) == []
