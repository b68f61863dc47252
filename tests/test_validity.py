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
from tests.esconv_synthetic import DOUBLE_LADDER, RULES_LADDER, write_synthetic, write_verdicts

runner = CliRunner()
DOUBLE = "testdouble/scripted"
FIGURES = ("n", "rho", "ci_low", "ci_high", "shuffled_rho")


def test_rules_appraisal_recovers_ratings_that_follow_its_cues(tmp_path):
    """Ratings planted on the rules' lexical cues: rho near 1 for rules, near 0 with ratings shuffled."""
    path = write_synthetic(tmp_path / "planted.json", RULES_LADDER)
    result = runner.invoke(app, ["validity", "esconv", str(path), "--appraisal", "rules", "--self-report", "latent",
                                 "--out", str(tmp_path / "out")], terminal_width=240)
    assert result.exit_code == 0, result.output
    assert "turn_appraisal" in result.output and "shuffled" in result.output and "masked" in result.output
    written = json.loads((tmp_path / "out" / "validity.json").read_text())
    assert set(written["targets"]) == set(TARGETS) == set(written["masked"])
    # The cues are the supporter's: the figure holds with the seeker's words masked too.
    assert written["masked"]["turn_appraisal"]["rho"] > 0.95
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


# --- a harness that cannot see the answer (issue 22, point 5) -------------------------------------------------


def test_a_figure_living_on_the_seekers_words_falls_to_the_shuffled_band_when_they_are_masked(tmp_path):
    """The seekers say their rating in words before the supporter's last turn; the client (the test double,
    which reads its own stated verdict) picks it up, so the end-of-session figure is high. Heard with the
    seeker's words masked (supporter turns only), it falls inside its shuffled band, and that is reported."""
    path = write_verdicts(tmp_path / "said.json")
    result = run_validity(path, tmp_path / "out", client_model=DOUBLE, appraisal="rules", self_report="model")
    with_words, masked = result["targets"]["empathy"], result["masked"]["empathy"]
    assert with_words["rho"] > 0.6 and with_words["rho"] > with_words["shuffled_high"]
    assert masked["shuffled_low"] <= (masked["rho"] or 0.0) <= masked["shuffled_high"]
    written = json.loads((tmp_path / "out" / "validity.json").read_text())
    assert set(written["masked"]) == set(written["targets"])
    table = runner.invoke(app, ["validity", "esconv", str(path), "--client-model", DOUBLE, "--out",
                                str(tmp_path / "cli")], terminal_width=240)
    assert table.exit_code == 0 and "masked" in table.output and "empathy" in table.output


def test_the_end_of_session_answers_see_no_seeker_words_after_the_last_supporter_turn(tmp_path):
    """The verdict only in the seeker's closing words, after the supporter's last turn: nothing to pick up."""
    path = write_verdicts(tmp_path / "closing.json", verdict_last=True)
    figures = run_validity(path, tmp_path / "out", client_model=DOUBLE, self_report="model")["targets"]["empathy"]
    assert figures["shuffled_low"] <= (figures["rho"] or 0.0) <= figures["shuffled_high"]


def test_the_shuffled_control_keeps_conversations_whole():
    """Seekers who rate consistently (one rating per conversation) and a client whose scores cluster by
    conversation: permuting single turns would give a band far too narrow; permuting conversations keeps
    each one's ratings together, so each conversation's scores face one other conversation's ratings."""
    import random as stdlib_random

    import numpy as np

    from muspsy_sim.simulation.validity.figures import shuffled, shuffled_pairs, spearman

    rng = stdlib_random.Random(1)
    groups = []
    for _ in range(12):
        level, offset = rng.randint(1, 5), rng.gauss(0, 1)
        groups.append([(offset + rng.gauss(0, 0.05), float(level)) for _ in range(10)])
    draw = shuffled_pairs(groups, np.random.default_rng(0))
    start = 0
    for group in groups:
        faced = {human for _, human in draw[start:start + len(group)]}
        assert len(faced) == 1 and [s for s, _ in draw[start:start + len(group)]] == [s for s, _ in group]
        start += len(group)
    _, low, high = shuffled(groups, seed=3)
    pairs = [pair for group in groups for pair in group]
    by_turn = np.random.default_rng(3)
    turn_level = [spearman(list(zip([s for s, _ in pairs], by_turn.permutation([h for _, h in pairs]).tolist())))
                  for _ in range(200)]
    turn_low, turn_high = np.quantile(turn_level, [0.025, 0.975])
    assert high - low > 2 * (turn_high - turn_low)


def test_the_campaigns_client_dynamics_apply_with_its_config(tmp_path):
    """--config: the client's settings and dynamics come from the campaign (here: trust does not move)."""
    from tests.conftest import scripted_config

    path = write_synthetic(tmp_path / "planted.json", RULES_LADDER)
    config = scripted_config(tmp_path, client={"appraisal": "rules", "self_report": "latent"},
                             client_dynamics={"trust_per_empathy": 0.0, "trust_per_relevance": 0.0,
                                              "trust_per_push": 0.0, "trust_per_reference": 0.0})
    result = runner.invoke(app, ["validity", "esconv", str(path), "--config", str(config), "--out",
                                 str(tmp_path / "out")], terminal_width=240)
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "out" / "validity.json").read_text())
    assert written["client_model"] == "testdouble/scripted" and written["self_report"] == "latent"
    assert written["client_dynamics"]["trust_per_empathy"] == 0.0 and written["config"] == str(config)
    assert written["targets"]["turn_appraisal"]["rho"] is None  # every turn moves trust by nothing
    plain = run_validity(path, tmp_path / "plain", self_report="latent")
    assert plain["targets"]["turn_appraisal"]["rho"] > 0.95


def test_a_legacy_campaigns_client_reads_the_legacy_cues(tmp_path, monkeypatch):
    """--config of a campaign under the legacy dynamics: its rules appraiser is the one before issue 23's cues."""
    from muspsy_sim.agents.client.appraisal import RulesAppraiser
    from muspsy_sim.simulation.config import load_config
    from muspsy_sim.simulation.validity import harness
    from tests.conftest import scripted_config

    built: list[RulesAppraiser] = []
    build = harness.build_appraiser
    monkeypatch.setattr(harness, "build_appraiser", lambda *a, **k: built.append(build(*a, **k)) or built[-1])
    path = write_synthetic(tmp_path / "planted.json", RULES_LADDER, conversations=2)
    for preset, legacy in (("legacy", True), ("calibrated", False)):
        (tmp_path / preset).mkdir()
        config = scripted_config(tmp_path / preset, client={"appraisal": "rules", "self_report": "latent"},
                                 client_dynamics={"preset": preset})
        run_validity(path, tmp_path / preset / "out", config=load_config(config), config_source=str(config))
        assert isinstance(built[-1], RulesAppraiser) and built[-1].legacy is legacy


def test_questionnaire_totals_the_data_carry_are_targets(tmp_path):
    """Data that carry the seeker's PHQ-9 and WAI-SR totals: the client answers the same questionnaires."""
    path = write_synthetic(tmp_path / "planted.json", RULES_LADDER, conversations=8)
    data = json.loads(path.read_text())
    for number, conversation in enumerate(data):
        conversation["questionnaires"] = {"phq9": {"before": 15, "after": 15 - number}, "wai_sr": {"after": 20 + number}}
    data.append({**data[0], "questionnaires": {"phq9": {"during": 3}}})
    path.write_text(json.dumps(data), encoding="utf-8")
    result = run_validity(path, tmp_path / "out", client_model=DOUBLE, self_report="latent")
    assert result["targets"]["phq9_change"]["n"] == 8 and result["targets"]["wai_total"]["n"] == 8
    assert "gad7_change" not in result["targets"] and "distress_drop" in result["targets"]
    assert "questionnaires.phq9" in result["conversations"]["skipped"][0]["reason"]


def test_answers_the_clients_model_did_not_give_are_left_out_and_counted(tmp_path, monkeypatch):
    """Filled-in answers are no ratings of the client's: a turn whose appraisal has a filled-in item gives no pair,
    and its conversation's end-of-session targets go (the state moved on it, as eval leaves them out); a session
    rating or a questionnaire total with a filled-in answer gives no pair. Each is counted, and printed."""
    from muspsy_sim.agents.client.appraisal import RulesAppraiser
    from muspsy_sim.simulation.validity import replay as replaying
    from muspsy_sim.simulation.validity.harness import validity_table

    path = write_synthetic(tmp_path / "planted.json", RULES_LADDER, conversations=8)
    data = json.loads(path.read_text())
    for number, conversation in enumerate(data):
        conversation["questionnaires"] = {"phq9": {"before": 15, "after": 15 - number}, "wai_sr": {"after": 20 + number}}
    path.write_text(json.dumps(data), encoding="utf-8")
    appraise, administer = RulesAppraiser.appraise, replaying.administer

    def filled_in_appraisal(self, context):
        appraisal, used = appraise(self, context)
        if context.profile.id == "esconv-0":
            appraisal = appraisal.model_copy(update={"filled_in": ["empathy"], "methods": {"fallback": 1}})
        return appraisal, used

    def filled_in_answers(llm, instrument, profile, *args, **kwargs):
        result, used = administer(llm, instrument, profile, *args, **kwargs)
        if (instrument.key, profile.id) in (("wai_sr", "esconv-1"), ("session_rating", "esconv-2")):
            result = result.model_copy(update={"filled_in": [1], "methods": {**result.methods, "fallback": 1}})
        return result, used

    monkeypatch.setattr(RulesAppraiser, "appraise", filled_in_appraisal)
    monkeypatch.setattr(replaying, "administer", filled_in_answers)
    result = run_validity(path, tmp_path / "out", client_model=DOUBLE, appraisal="rules", self_report="latent")
    first = json.loads((tmp_path / "out" / "replays.jsonl").read_text().splitlines()[0])
    assert result["filled_in_left_out"] == {"turn_appraisal": 5, "empathy": 2, "relevance": 1, "intensity_drop": 1,
                                            "distress_drop": 1, "phq9_change": 1, "wai_total": 2}
    targets = result["targets"]
    assert targets["turn_appraisal"]["n"] == 35 and targets["empathy"]["n"] == 6 and targets["wai_total"]["n"] == 6
    assert targets["distress_drop"]["n"] == 7 and targets["phq9_change"]["n"] == 7
    assert result["methods"]["self_report"]["fallback"] == 2  # the questionnaires' answers counted too
    assert first["rated"] == [] and first["rated_left_out"] == 5 and first["moved_on_filled_in"]
    printed = validity_table(result).caption
    assert "Pairs left out, the simulated side filled in: distress_drop 1, empathy 2" in printed


def test_too_few_conversations_give_no_shuffled_band_and_the_output_says_so(tmp_path):
    """2, 3 and 4 conversations have 1, 2 and 9 derangements: no band from so few (two gave low == high). A
    bootstrap over fewer than 10 conversations is coarse: said so, as compare does."""
    from muspsy_sim.simulation.validity.figures import target_figures
    from muspsy_sim.simulation.validity.harness import validity_table

    rising, falling = [(1.0, 1.0), (2.0, 2.0), (3.0, 4.0)], [(1.0, 5.0), (2.0, 3.0), (3.0, 2.0)]
    for count in (2, 3, 4):
        few = target_figures([rising, falling] * (count // 2) + [rising] * (count % 2), seed=0)
        assert (few["shuffled_rho"], few["shuffled_low"], few["shuffled_high"]) == (None, None, None), count
        assert any("too few for a shuffled band" in note for note in few["notes"])
    import random as stdlib_random

    rng = stdlib_random.Random(2)
    five = target_figures([[(rng.random(), float(rng.randint(1, 5))) for _ in range(4)] for _ in range(5)], seed=0)
    assert five["shuffled_low"] < five["shuffled_high"] and not any("shuffled" in n for n in five["notes"])
    assert any("coarse" in note for note in five["notes"])
    assert target_figures([rising, falling] * 5, seed=0)["notes"] == []
    path = write_synthetic(tmp_path / "three.json", RULES_LADDER, conversations=3)
    result = run_validity(path, tmp_path / "out", self_report="latent")
    assert result["targets"]["turn_appraisal"]["shuffled_low"] is None
    assert "turn_appraisal" in validity_table(result).caption and "too few for a shuffled band" in validity_table(
        result).caption
