"""Bad input: one line naming the file and field, exit code 2, nothing written."""

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()


def _run(config):
    return runner.invoke(app, ["run", "--config", str(config), "--no-progress"])


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"sessions": "three"}, "sessions", "valid integer"),
        ({"max_turns": 10_000}, "max_turns", "less than or equal"),
        ({"surprise": 1}, "surprise", "unknown field"),
        ({"models": {"client": {"model": "nosuchprovider/x"}}}, "models.client.model", "unknown model provider"),
        ({"models": {"counselor": "local/does/not/exist"}}, "models.counselor.model", "unknown local model"),
        ({"models": {"judge": "testdouble/nope"}}, "models.judge.model", "unknown test double"),
        ({"counselor": "telepathic"}, "counselor", "unknown counselor 'telepathic'"),
        ({"counselor": "no_such_module:Counselor"}, "counselor", "cannot import"),
        ({"scenarios": ["gad-priya-38", "nobody"]}, "scenarios.1", "unknown scenario 'nobody'"),
        ({"scenarios": ["../../etc/passwd"]}, "scenarios.0", "unknown scenario"),
        ({"name": "../escape"}, "name", "pattern"),
        ({"scenario_dir": "/no/such/dir"}, "scenario_dir", "not a directory"),
        ({"client_dynamics": {"turn_noise": "nan"}}, "client_dynamics.turn_noise", "finite number, not nan"),
        ({"client_dynamics": {"weekly_relief": float("inf")}}, "client_dynamics.weekly_relief", "finite number"),
        ({"client_dynamics": {"setback_chance": "-3"}}, "client_dynamics.setback_chance", "between 0 and 1, not -3"),
        ({"client_dynamics": {"sudden_gain_share": 1.5}}, "client_dynamics.sudden_gain_share", "between 0 and 1"),
        ({"client_dynamics": {"trait_volatility_sd": -0.1}}, "client_dynamics.trait_volatility_sd", "0 or more"),
        ({"client_dynamics": {"no_such_weight": 1}}, "client_dynamics.no_such_weight", "unknown dynamics parameter"),
    ],
)
def test_invalid_config_is_one_line_exit_2_nothing_written(tmp_path, make_config, overrides, field, message):
    config = make_config(**overrides)
    result = _run(config)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert lines[0].startswith(f"error: {config}: {field}:") and message in lines[0]
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"name: [unclosed", "line"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"- just\n- a list\n", "expected a mapping"),
        (b"name: !!python/object/apply:os.system ['echo hacked']\n", "could not determine a constructor"),
    ],
)
def test_unreadable_config_files(tmp_path, content, message):
    config = tmp_path / "bad.yaml"
    config.write_bytes(content)
    result = _run(config)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and str(config) in result.output and message in result.output
    assert not (tmp_path / "runs").exists()


def test_missing_config_file(tmp_path):
    result = _run(tmp_path / "absent.yaml")
    assert result.exit_code == 2 and "cannot read file" in result.output


def test_invalid_profile_is_reported_with_its_file(tmp_path, make_config):
    from tests.conftest import LIBRARY

    library = tmp_path / "library"
    library.mkdir()
    text = (LIBRARY / "gad-priya-38.yaml").read_text().replace("distress: ", "distress: 42 #", 1)
    (library / "gad-priya-38.yaml").write_text(text)
    result = _run(make_config(scenario_dir=str(library), scenarios=["gad-priya-38"]))
    assert result.exit_code == 2
    assert f"{library / 'gad-priya-38.yaml'}: initial_state.distress:" in result.output
    assert not (tmp_path / "runs").exists()


def test_rerun_with_changed_settings_is_refused(tmp_path, make_config):
    assert _run(make_config(sessions=1, scenarios=["gad-priya-38"])).exit_code == 0
    result = _run(make_config(sessions=2, scenarios=["gad-priya-38"]))
    assert result.exit_code == 2 and "config.sessions" in result.output
