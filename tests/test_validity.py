"""The validity harness (`validity esconv`): planted truths in synthetic ESConv-format files."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.validity.esconv import read_conversations
from muspsy_sim.simulation.validity.harness import TARGETS, run_validity
from tests.conftest import FIXTURES
from tests.esconv_synthetic import DOUBLE_LADDER, RULES_LADDER, write_synthetic

runner = CliRunner()
DOUBLE = "testdouble/scripted"
FIGURES = ("n", "rho", "ci_low", "ci_high", "shuffled_rho")


def test_rules_appraisal_recovers_ratings_that_follow_its_cues(tmp_path):
    """Ratings planted on the rules' lexical cues: rho near 1 for rules, near 0 with ratings shuffled."""
    path = write_synthetic(tmp_path / "planted.json", RULES_LADDER)
    result = runner.invoke(app, ["validity", "esconv", str(path), "--appraisal", "rules", "--self-report", "latent",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "turn_appraisal" in result.output and "shuffled rho" in result.output
    written = json.loads((tmp_path / "out" / "validity.json").read_text())
    assert set(written["targets"]) == set(TARGETS)
    for figures in written["targets"].values():
        assert set(FIGURES) <= set(figures)
    turn = written["targets"]["turn_appraisal"]
    assert turn["n"] == 60 and turn["rho"] > 0.95 and turn["ci_low"] > 0.9
    assert abs(turn["shuffled_rho"]) < 0.1 and turn["shuffled_low"] < 0 < turn["shuffled_high"]
    assert written["conversations"]["replayed"] == 12 and written["conversations"]["skipped"] == []
    assert written["appraisal"] == "rules" and written["methods"]["self_report"] == {"latent-readout": 36}


def test_model_appraisal_rates_through_the_client_model(tmp_path):
    """Ratings planted on the test double's own cue words: the model appraiser follows them, the rules do not."""
    path = write_synthetic(tmp_path / "planted.json", DOUBLE_LADDER, conversations=6, turns=4)
    by_model = run_validity(path, tmp_path / "model", client_model=DOUBLE, appraisal="model", self_report="model")
    by_rules = run_validity(path, tmp_path / "rules", client_model=DOUBLE, appraisal="rules", self_report="model")
    assert by_model["targets"]["turn_appraisal"]["rho"] > 0.95
    assert abs(by_model["targets"]["turn_appraisal"]["shuffled_rho"]) < 0.15
    assert by_model["targets"]["turn_appraisal"]["rho"] > by_rules["targets"]["turn_appraisal"]["rho"] + 0.2
    # Every supporter turn (the greeting too) is rated on 4 items: 6 conversations x 5 turns x 4.
    assert by_model["methods"]["appraisal"] == {"likelihood-calibrated": 6 * 5 * 4}
    assert by_model["usage"]["calls"] > 6 * 5 * 4 and by_rules["methods"]["appraisal"] == {}
    # The end-of-session answers came from the model too (the double answers from the state in words).
    assert set(by_model["methods"]["self_report"]) == {"likelihood-calibrated"}


def test_both_speaker_spellings_and_consecutive_messages(tmp_path):
    conversations, skipped = read_conversations(FIXTURES / "esconv_example.json")
    assert skipped == [] and len(conversations) == 3
    first, second, third = conversations
    # seeker/supporter and speaker/listener read alike; a supporter's two messages are one turn.
    assert [t.speaker for t in first.turns] == ["counselor", "client", "counselor", "client", "counselor", "client"]
    assert first.turns[2].text.endswith("How are you holding up?") and first.turns[3].feedback == 5
    assert [t.speaker for t in third.turns] == ["counselor", "client"] * 3 and third.rated_turns == 2
    assert third.survey["relevance"] is None and second.survey["empathy"] == 1


def test_malformed_conversations_are_skipped_with_a_reason(tmp_path):
    bad = [
        {"emotion_type": "anxiety", "dialog": "not a list"},
        {"emotion_type": "anxiety", "dialog": [{"speaker": "narrator", "content": "hello"}]},
        {"survey_score": {"seeker": {"empathy": "seven"}},
         "dialog": [{"speaker": "seeker", "content": "hi"}, {"speaker": "supporter", "content": "hello"}]},
        {"dialog": [{"speaker": "seeker", "content": "only me"}]},
        "a string",
    ]
    path = write_synthetic(tmp_path / "mixed.json", RULES_LADDER, conversations=4, turns=3, extra=bad)
    result = runner.invoke(app, ["validity", "esconv", str(path), "--self-report", "latent", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    skipped = json.loads((tmp_path / "o" / "validity.json").read_text())["conversations"]["skipped"]
    assert [s["index"] for s in skipped] == [4, 5, 6, 7, 8]
    reasons = " | ".join(s["reason"] for s in skipped)
    for expected in ("dialog is missing", "'narrator' is none of", "survey_score.seeker.empathy: 'seven' is not a rating",
                     "both the help-seeker and the supporter", "not an object"):
        assert expected in reasons
    assert "skipped conversation #5" in result.output


@pytest.mark.parametrize("content", ["{not json", '{"a": 1}', None])
def test_unreadable_file_is_one_line_and_exit_2_and_writes_nothing(tmp_path, content):
    path = tmp_path / "conversations.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["validity", "esconv", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith(f"error: {path}")
    assert not out.exists()


def test_limit_and_the_example_file(tmp_path):
    path = shutil.copy(FIXTURES / "esconv_example.json", tmp_path / "example.json")
    written = run_validity(path, tmp_path / "out", client_model=DOUBLE, limit=2, self_report="latent")
    assert written["conversations"]["replayed"] == 2 and written["targets"]["turn_appraisal"]["n"] == 4
    lines = (tmp_path / "out" / "replays.jsonl").read_text().splitlines()
    assert [json.loads(line)["index"] for line in lines] == [0, 1]
