"""The record of checked CLI versions makes the README's compatibility table and moves the pin."""
import json

import pytest

from harness import compat
from tests.support import PINNED, ROOT


def check(version, passed=True, contract="56 passed in 48.64s", integration="21 passed in 17.02s", diff="holds"):
    """An entry as harness/upgrade.py writes it."""
    suite = lambda summary: None if summary is None else {  # noqa: E731
        "passed": passed or "failed" not in summary, "summary": summary, "command": "pytest"}
    return {"version": version, "published": "2026-11-20", "checked_at": "2026-11-30T12:00Z", "against": "1.0.0",
            "recorded": "anew", "diff": diff, "breaking": 0 if diff == "holds" else 1, "contract": suite(contract),
            "integration": suite(integration), "machine": {}, "report": f"fixtures/diff-1.0.0-{version}.md",
            "passed": passed}


@pytest.fixture
def fixtures(tmp_path):
    (tmp_path / "PINNED").write_text("1.0.0\n")
    for version in ("1.0.0", "1.0.2", "1.0.10"):
        (tmp_path / f"cli-{version}").mkdir()
    compat.add(check("1.0.0"), tmp_path)
    compat.add(check("1.0.10"), tmp_path)
    compat.add(check("1.0.2", passed=False, integration="1 failed, 20 passed in 17.00s"), tmp_path)
    compat.add(check("0.9.0", passed=False, contract=None, integration=None, diff="BREAKS"), tmp_path)
    return tmp_path


def test_the_record_lists_versions_newest_first_and_names_the_pinned_one(fixtures):
    record = json.loads((fixtures / "compatibility.json").read_text())
    assert record["pinned"] == "1.0.0"
    assert [e["version"] for e in record["versions"]] == ["1.0.10", "1.0.2", "1.0.0", "0.9.0"]


def test_a_new_check_of_a_version_replaces_the_old_one(fixtures):
    compat.add(check("1.0.2"), fixtures)
    assert [e["passed"] for e in compat.load(fixtures)["versions"] if e["version"] == "1.0.2"] == [True]


def test_the_table_marks_the_pinned_version_and_shows_each_verdict(fixtures):
    lines = compat.table(compat.load(fixtures))
    assert lines[2] == ("| 1.0.10 | 2026-11-20 | 2026-11-30 against 1.0.0 | [holds](fixtures/diff-1.0.0-1.0.10.md) | "
                        "56 passed | 21 passed |")
    assert lines[3].endswith("| 56 passed | **failed** (1 failed, 20 passed) |")
    assert lines[4].startswith("| **1.0.0** (pinned) |")
    assert "| [none: the pin itself](fixtures/diff-1.0.0-1.0.0.md) |" in lines[4]
    assert lines[5].endswith("| [BREAKS](fixtures/diff-1.0.0-0.9.0.md) | not run | not run |")
    assert lines[-1] == "Known to work: 1.0.0 to 1.0.10 (the versions checked that passed: 1.0.0, 1.0.10)."


def test_the_readme_block_is_replaced_and_nothing_else(fixtures, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"before\n{compat.BEGIN}\nold\n{compat.END}\nafter\n")
    assert compat.write_readme(compat.load(fixtures), readme)
    text = readme.read_text()
    assert text.startswith(f"before\n{compat.BEGIN}\n| CLI version |") and text.endswith(f"{compat.END}\nafter\n")
    assert "\nold\n" not in text
    readme.write_text("no markers\n")
    assert not compat.write_readme(compat.load(fixtures), readme)


def test_the_pin_moves_to_the_newest_version_that_passed(fixtures):
    assert compat.pin("newest", fixtures) == "1.0.10"
    assert (fixtures / "PINNED").read_text() == "1.0.10\n"
    assert compat.save(compat.load(fixtures), fixtures)["pinned"] == "1.0.10"


def test_the_pin_needs_recordings(fixtures):
    with pytest.raises(ValueError, match="no recordings of 0.9.0"):
        compat.pin("0.9.0", fixtures)


def test_the_readme_shows_the_table_of_the_record():
    readme = (ROOT / "README.md").read_text()
    block = readme.split(compat.BEGIN, 1)[1].split(compat.END, 1)[0].strip()
    record = compat.load()
    assert block == "\n".join(compat.table(record)), "run python -m harness.compat --write"
    assert record["pinned"] == PINNED and f"| **{PINNED}** (pinned) |" in block


def test_at_least_four_versions_were_checked_with_the_command():
    checked = compat.load()["versions"]
    assert len(checked) >= 4
    assert all(e["contract"] and e["integration"] and e["report"] for e in checked)
    assert all((ROOT / e["report"]).is_file() for e in checked)
