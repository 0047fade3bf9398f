"""The upgrade check: resolves latest through npm, keeps the pinned fixtures, swaps recordings in whole,
and notes each check (what, when, how busy the machine, each suite) in its report and the record."""
import json
import pathlib
import shutil

import pytest

from harness import compat, install_cli, record, upgrade
from tests.support import FIXTURES

SAMPLE = ("success", "rate_limit", "thinking")
REGISTRY = {"dist-tags": {"latest": "1.0.2", "next": "1.1.0-beta"},
            "time": {"1.0.0": "2026-11-01T10:00:00Z", "1.0.1": "2026-11-10T10:00:00Z", "1.0.2": "2026-11-20T10:00:00Z",
                     "1.1.0-beta": "2026-11-21T10:00:00Z"}}


@pytest.fixture
def fixtures(tmp_path, monkeypatch):
    """A checkout's fixtures and README in tmp_path: 1.0.0 pinned, some of its recordings, npm faked."""
    directory = tmp_path / "fixtures"
    (directory / "cli-1.0.0").mkdir(parents=True)
    for name in SAMPLE:
        shutil.copy(FIXTURES / f"{name}.json", directory / "cli-1.0.0")
    (directory / "PINNED").write_text("1.0.0\n")
    (tmp_path / "README.md").write_text(f"# Proxy\n\n{compat.BEGIN}\nold table\n{compat.END}\n\nThe end.\n")
    monkeypatch.setattr(upgrade, "FIXTURES", str(directory))
    monkeypatch.setattr(upgrade, "README", str(tmp_path / "README.md"))
    monkeypatch.setattr(install_cli, "registry", lambda: REGISTRY)
    monkeypatch.setattr(upgrade, "ensure_cli", lambda version: f"/opt/claude-{version}/claude")
    return directory


@pytest.fixture
def recorded(fixtures, monkeypatch):
    """Stand in for recording: copy the pinned recordings as the version's; return the versions recorded, in order."""
    done = []

    def record_version(claude, version):
        done.append(version)
        if version != "1.0.0":
            shutil.copytree(fixtures / "cli-1.0.0", fixtures / f"cli-{version}", dirs_exist_ok=True)
        return 0

    monkeypatch.setattr(upgrade, "record_version", record_version)
    return done


def suites(contract=True, integration=True):
    """Stand in for run_suite: the contract suite first, then the integration suite, with these outcomes."""
    outcomes = iter([contract, integration])

    def run_suite(args, **env):
        ok = next(outcomes)
        summary = "56 passed in 48.64s" if ok else "1 failed, 55 passed in 50.01s"
        return ok, summary, f"{' '.join(f'{k}={v}' for k, v in env.items())} pytest {args[0]}"
    return run_suite


def entry(fixtures, version):
    return next(e for e in json.loads((fixtures / "compatibility.json").read_text())["versions"]
                if e["version"] == version)


def test_latest_is_the_version_npm_names_and_the_report_says_what_when_and_each_suite(fixtures, recorded,
                                                                                       monkeypatch):
    monkeypatch.setattr(upgrade, "run_suite", suites())
    assert upgrade.main(["latest"]) == 0
    assert recorded == ["1.0.2"]
    report = (fixtures / "diff-1.0.0-1.0.2.md").read_text()
    assert "- Checked: Claude CLI 1.0.2 (npm's `latest`, published 2026-11-20) against the pinned 1.0.0" in report
    assert "- When: " in report and " UTC; recorded anew" in report
    assert "- Machine: load " in report and " CPUs (" in report and "at the start; load " in report
    assert "- `CLI_FIXTURES_VERSION=1.0.2 pytest contract_tests`: passed (56 passed in 48.64s)" in report
    assert "- `CLI_VERSION=1.0.2 pytest tests/integration`: passed (56 passed in 48.64s)" in report
    assert "- Result: **passed**" in report and "## Timings" in report
    noted = entry(fixtures, "1.0.2")
    assert noted["passed"] and noted["published"] == "2026-11-20" and noted["against"] == "1.0.0"
    assert noted["diff"] == "holds" and noted["contract"]["summary"] == "56 passed in 48.64s"
    assert noted["report"].endswith("diff-1.0.0-1.0.2.md")


def test_a_failing_suite_fails_the_check_and_is_noted(fixtures, recorded, monkeypatch):
    monkeypatch.setattr(upgrade, "run_suite", suites(integration=False))
    assert upgrade.main(["1.0.1"]) == 1
    report = (fixtures / "diff-1.0.0-1.0.1.md").read_text()
    assert "pytest tests/integration`: **FAILED** (1 failed, 55 passed in 50.01s)" in report
    assert "- Result: **failed**: a suite failed" in report
    assert entry(fixtures, "1.0.1")["passed"] is False


def test_a_breaking_difference_fails_the_check_though_the_suites_pass(fixtures, recorded, monkeypatch):
    def record_version(claude, version):
        recorded.append(version)
        shutil.copytree(fixtures / "cli-1.0.0", fixtures / f"cli-{version}")
        path = fixtures / f"cli-{version}" / "rate_limit.json"
        path.write_text(json.dumps(json.loads(path.read_text()) | {"returncode": 2}))
        return 0

    monkeypatch.setattr(upgrade, "record_version", record_version)
    monkeypatch.setattr(upgrade, "run_suite", suites())
    assert upgrade.main(["1.0.1"]) == 1
    assert entry(fixtures, "1.0.1")["diff"] == "BREAKS" and entry(fixtures, "1.0.1")["passed"] is False


def test_the_readme_table_is_updated_with_each_check(fixtures, recorded, monkeypatch):
    monkeypatch.setattr(upgrade, "run_suite", suites())
    upgrade.main(["1.0.1"])
    readme = (fixtures.parent / "README.md").read_text()
    assert "old table" not in readme and readme.endswith(f"{compat.END}\n\nThe end.\n")
    assert "| 1.0.1 | 2026-11-10 | " in readme


def test_the_pinned_version_is_checked_over_its_recordings_never_re_recorded(fixtures, recorded, monkeypatch,
                                                                             capsys):
    monkeypatch.setattr(upgrade, "run_suite", suites())
    assert upgrade.main(["1.0.0"]) == 0
    assert recorded == []
    assert "1.0.0 is the pinned version" in capsys.readouterr().out
    assert entry(fixtures, "1.0.0")["recorded"] == "kept" and entry(fixtures, "1.0.0")["passed"]


def test_listed_and_force_re_record_the_pinned_version_first_then_the_rest_oldest_first(fixtures, recorded,
                                                                                       monkeypatch):
    monkeypatch.setattr(upgrade, "run_suite", lambda args, **env: (True, "1 passed in 0.01s", "pytest"))
    assert upgrade.main(["latest", "1.0.0"]) == 0  # the record now lists 1.0.0 (kept, as pinned) and 1.0.2
    assert recorded == ["1.0.2"]
    recorded.clear()
    assert upgrade.main(["--listed", "1.0.1", "latest", "--force"]) == 0
    assert recorded == ["1.0.0", "1.0.1", "1.0.2"]


def test_a_preview_without_the_suites_writes_the_report_but_notes_nothing(fixtures, recorded):
    assert upgrade.main(["1.0.1", "--no-tests"]) == 0
    assert "- Result: **diff only**: the diff holds; the suites were not run" in (fixtures / "diff-1.0.0-1.0.1.md").read_text()
    assert not (fixtures / "compatibility.json").exists()
    assert "old table" in (fixtures.parent / "README.md").read_text()


def test_a_version_npm_does_not_have_is_refused_before_anything_is_installed(fixtures, recorded, capsys):
    assert upgrade.main(["9.9.9"]) == 1
    assert recorded == [] and "@anthropic-ai/claude-code@9.9.9 is not on npm" in capsys.readouterr().err


@pytest.fixture
def scratch(tmp_path, monkeypatch):
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


def test_new_recordings_replace_the_version_directory_whole(scratch, monkeypatch):
    monkeypatch.setattr(record, "main", fake_record(0))
    assert upgrade.record_version("/opt/claude", "9.9.9") == 0
    assert [p.name for p in (scratch / "cli-9.9.9").iterdir()] == ["success.json"]
    assert [p.name for p in scratch.iterdir()] == ["cli-9.9.9"]


def test_a_failed_recording_leaves_the_old_one(scratch, monkeypatch):
    monkeypatch.setattr(record, "main", fake_record(1))
    assert upgrade.record_version("/opt/claude", "9.9.9") == 1
    assert [p.name for p in (scratch / "cli-9.9.9").iterdir()] == ["gone.json"]
    assert [p.name for p in scratch.iterdir()] == ["cli-9.9.9"]
