"""Each recording notes how busy its machine was, and a report says when two versions' timings compare."""
import json
import os
import shutil

import pytest

from harness import diff, machine, record
from harness.fake_cli import make_fake_cli
from harness.record_scenarios import SCENARIOS
from harness.signature import load
from tests.support import FIXTURES


def test_a_recording_notes_the_machine_it_was_made_on(tmp_path):
    claude = make_fake_cli(tmp_path, FIXTURES)
    success = next(s for s in SCENARIOS if s.name == "success")
    rec = record.record(claude, "9.9.9", success, None)
    note = rec["machine"]
    assert set(note) == {"cpus", "load", "wall_s", "cli_cpu_s"}
    assert note["cpus"] == os.cpu_count() and len(note["load"]) == 3
    assert note["wall_s"] >= rec["stdout"][-1]["t"] and note["cli_cpu_s"] >= 0
    assert "wall_s" not in rec  # the run's own time is part of the note, not of the recording's facts


@pytest.fixture
def versions(tmp_path):
    """Copies of some pinned recordings as versions 1.0.0 and 1.0.1, each noted as made at a load per CPU."""
    def make(old, new):
        for version, per_cpu in (("1.0.0", old), ("1.0.1", new)):
            directory = tmp_path / f"cli-{version}"
            directory.mkdir()
            for name in ("success", "slow"):
                rec = json.loads((FIXTURES / f"{name}.json").read_text())
                rec.pop("machine", None)
                if per_cpu is not None:
                    rec["machine"] = {"cpus": 2, "load": [2 * per_cpu, 1.0, 1.0], "wall_s": 1.0, "cli_cpu_s": 0.4}
                (directory / f"{name}.json").write_text(json.dumps(rec))
        return tmp_path
    return make


def timings(fixtures):
    return "\n".join(machine.timings("1.0.0", load(fixtures, "1.0.0"), "1.0.1", load(fixtures, "1.0.1")))


def test_two_quiet_recordings_compare(versions):
    text = timings(versions(0.3, 0.5))
    assert "Timings are comparable" in text
    assert "- 1.0.1: median load 1.00 on 2 CPUs (0.50 per CPU, quiet)" in text


def test_a_busy_recording_machine_is_named(versions):
    text = timings(versions(0.3, 1.5))
    assert "Timings are not comparable: 1.0.1 was recorded on a busy machine." in text
    assert "(1.50 per CPU, busy)" in text


def test_recordings_without_notes_do_not_compare(versions):
    text = timings(versions(None, 0.2))
    assert "Timings are not comparable: 1.0.0 has no load notes." in text


def test_the_diff_report_says_it_compares_structure_not_timings(versions, capsys):
    fixtures = versions(0.2, 2.0)
    assert diff.main(["1.0.0", "1.0.1", "--fixtures", str(fixtures)]) == 0  # load alone breaks nothing
    out = capsys.readouterr().out
    assert "## Timings" in out and "compares structure, not timings" in out and "busy machine" in out
