"""The upgrade check keeps the pinned fixtures and swaps a version's recordings in whole or not at all."""
import pathlib

import pytest

from harness import record, upgrade
from tests.support import PINNED


def test_the_pinned_version_is_not_re_recorded_without_force(capsys):
    with pytest.raises(SystemExit) as stop:
        upgrade.main([PINNED])
    assert stop.value.code == 2
    error = capsys.readouterr().err
    assert f"{PINNED} is the pinned version" in error and "--force" in error


@pytest.fixture
def fixtures(tmp_path, monkeypatch):
    """A fixtures directory whose recordings of 9.9.9 hold a scenario that no longer exists."""
    monkeypatch.setattr(upgrade, "FIXTURES", str(tmp_path))
    (tmp_path / "cli-9.9.9").mkdir()
    (tmp_path / "cli-9.9.9" / "gone.json").write_text("{}")
    return tmp_path


def fake_record(returncode):
    """Stand in for harness.record.main: write one recording of 9.9.9 under --out, then return returncode."""
    def main(argv):
        out = pathlib.Path(argv[argv.index("--out") + 1]) / "cli-9.9.9"
        out.mkdir()
        (out / "success.json").write_text("{}")
        return returncode
    return main


def test_new_recordings_replace_the_version_directory_whole(fixtures, monkeypatch):
    monkeypatch.setattr(record, "main", fake_record(0))
    assert upgrade.record_version("/opt/claude", "9.9.9") == 0
    assert [p.name for p in (fixtures / "cli-9.9.9").iterdir()] == ["success.json"]
    assert [p.name for p in fixtures.iterdir()] == ["cli-9.9.9"]


def test_a_failed_recording_leaves_the_old_one(fixtures, monkeypatch):
    monkeypatch.setattr(record, "main", fake_record(1))
    assert upgrade.record_version("/opt/claude", "9.9.9") == 1
    assert [p.name for p in (fixtures / "cli-9.9.9").iterdir()] == ["gone.json"]
    assert [p.name for p in fixtures.iterdir()] == ["cli-9.9.9"]
