import subprocess
import sys
import time

from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from tests.conftest import LIBRARY, REPO

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "resume", "scenarios"):
        assert command in result.output


def test_help_is_fast_and_imports_nothing_heavy():
    code = (
        "import sys, runpy; sys.argv=['run_sim.py','--help']\n"
        "try:\n    runpy.run_path('run_sim.py', run_name='__main__')\nexcept SystemExit: pass\n"
        "heavy=[m for m in ('torch','transformers','litellm','chromadb','langgraph') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout
    assert time.perf_counter() - started < 10  # generous: the point is no model or heavy import


def test_scenarios_list_shows_library():
    result = runner.invoke(app, ["scenarios", "list", "--dir", str(LIBRARY)])
    assert result.exit_code == 0
    assert "gad-priya-38" in result.output and "passive suicidal" in result.output


def test_scenarios_show_and_unknown_id():
    shown = runner.invoke(app, ["scenarios", "show", "panic-lucia-33", "--dir", str(LIBRARY)])
    assert shown.exit_code == 0 and "pseudonym: Lucia" in shown.output
    missing = runner.invoke(app, ["scenarios", "show", "nobody", "--dir", str(LIBRARY)])
    assert missing.exit_code == 2
    assert "unknown scenario 'nobody'" in missing.output


def test_scenarios_validate_library_and_bad_file(tmp_path):
    assert runner.invoke(app, ["scenarios", "validate", str(LIBRARY)]).exit_code == 0
    bad = tmp_path / "bad-one.yaml"
    bad.write_text((LIBRARY / "panic-lucia-33.yaml").read_text().replace("age: 33", "age: old"))
    result = runner.invoke(app, ["scenarios", "validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: age:" in result.output


def test_input_errors_are_one_line_on_stderr_and_exit_2_for_every_area(tmp_path):
    """One handler (the root group) turns an InputError from any command into `error: ...` and exit 2."""
    for args in (["scenarios", "show", "nobody", "--dir", str(LIBRARY)],  # scenarios (a nested group)
                 ["resume", str(tmp_path)],  # runs
                 ["compare", str(tmp_path)],  # analysis
                 ["export", str(tmp_path), "--out", str(tmp_path / "x.jsonl")],  # data
                 ["bench", "nonsense"]):  # bench
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stdout == "" and result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, args
