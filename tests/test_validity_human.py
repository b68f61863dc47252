"""`validity human`: the simulated client replays sessions people played as the client, and its ratings are set
beside theirs. Planted truths: ratings that follow the rules appraiser's cues, ratings unrelated to the
counselor turns, two raters of the same sessions. Also: no leak from the future, and the judge's check on
ESConv (`validity esconv --judge`)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.turns import CounselorTurn, Turn
from muspsy_sim.simulation.validity.agreement import (
    Group,
    aligned,
    conversation_shuffled,
    krippendorff_alpha,
    ordinal_distance,
)
from muspsy_sim.simulation.validity.esconv import ChatTurn
from muspsy_sim.simulation.validity.human_harness import run_human_validity
from tests.esconv_synthetic import write_judged
from tests.human_client_synthetic import follow_rules, noisy, unrelated, write_person_run

runner = CliRunner()
CLIENTS = ("gad-priya-38", "insomnia-david-47")


def _runs(tmp_path, planted, raters: int = 4, shared: bool = False):
    dialogues: dict = {}
    return [write_person_run(tmp_path, f"pilot-{i}", f"rater-{i}", planted if i == 0 else noisy(planted, 0.2),
                             clients=CLIENTS, sessions=2, seed=i, dialogues=dialogues if shared else None)
            for i in range(raters)]


def test_ratings_that_follow_the_rules_appraisal_are_recovered_and_the_shuffle_sits_near_zero(tmp_path):
    runs = _runs(tmp_path, follow_rules)
    result = runner.invoke(app, ["validity", "human", *map(str, runs), "--appraisal", "rules",
                                 "--self-report", "latent", "--client-model", "testdouble/scripted",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "empathy" in result.output and "shuffled" in result.output and "alpha" in result.output
    written = json.loads((tmp_path / "out" / "validity.json").read_text())
    assert written["sessions"]["replayed"] == 16 and written["resampled"] == "sessions"
    for item in ("empathy", "push"):
        figures = written["targets"][item]
        assert figures["n"] == 80 and figures["rho"] > 0.9 and figures["ci_low"] > 0.8, (item, figures)
        assert abs(figures["shuffled_rho"]) < 0.15 and figures["shuffled_low"] < 0 < figures["shuffled_high"]
        assert figures["shuffled_high"] < figures["ci_low"]
        assert abs(figures["mean_difference"]) < 0.3  # the planted ratings are the rules' own values, near enough
    # Relevance here depends only on position (the opening has nothing to take up), and the conversation-level
    # control keeps position: its shuffled rho is as high as its rho, so it shows no agreement beyond position.
    relevance = written["targets"]["relevance"]
    assert relevance["rho"] > 0.8 and relevance["shuffled_high"] >= relevance["rho"] - 0.05
    assert written["targets"]["engagement"]["n"] == 0  # the rules appraiser has no "want to go on"
    assert set(written["targets"]) >= {"phq9", "gad7", "wai_sr", "wai_sr.bond", "panas.positive"}
    assert written["methods"]["appraisal"] == {} and set(written["methods"]["self_report"]) == {"latent-readout"}


def test_ratings_unrelated_to_the_counselor_turns_fall_within_the_shuffled_band(tmp_path):
    written = run_human_validity(_runs(tmp_path, unrelated), tmp_path / "out", appraisal="rules", self_report="latent")
    for item in ("empathy", "push"):
        figures = written["targets"][item]
        assert figures["n"] == 80
        assert figures["shuffled_low"] <= figures["rho"] <= figures["shuffled_high"], (item, figures)
        assert figures["ci_low"] < 0.05  # no evidence of agreement


def test_two_raters_of_the_same_sessions_give_the_ceiling(tmp_path):
    careful = run_human_validity(_runs(tmp_path / "a", follow_rules, raters=2, shared=True), tmp_path / "o1",
                                 appraisal="rules", self_report="latent")
    ceiling = careful["ceiling"]["empathy"]
    assert ceiling["people"]["raters"] == 2 and ceiling["people"]["units"] == 20  # 4 sessions x 5 counselor turns
    assert ceiling["people"]["alpha"] > 0.7 and ceiling["simulated_with_people"]["alpha"] > 0.7
    # One careful rater, one who clicks at random: the people's ceiling falls, whatever the simulated client does.
    dialogues: dict = {}
    runs = [write_person_run(tmp_path / "b", "first", "first", follow_rules, clients=CLIENTS, sessions=2,
                             dialogues=dialogues),
            write_person_run(tmp_path / "b", "second", "second", unrelated, clients=CLIENTS, sessions=2, seed=5,
                             dialogues=dialogues)]
    careless = run_human_validity(runs, tmp_path / "o2", appraisal="rules", self_report="latent")
    assert careless["ceiling"]["empathy"]["people"]["alpha"] < 0.4
    # Different dialogues are different units: no ceiling where no turn was rated twice in the same context.
    apart = run_human_validity(_runs(tmp_path / "c", follow_rules, raters=2), tmp_path / "o3",
                               appraisal="rules", self_report="latent")
    assert apart["ceiling"]["empathy"]["people"]["units"] < 20


def test_the_replay_sees_nothing_after_the_turn_it_rates(tmp_path, monkeypatch):
    """Appraisals see the dialogue up to the counselor turn; end-of-session answers up to the last counselor turn."""
    from muspsy_sim.agents.client import questionnaires, simulated_client
    from muspsy_sim.agents.client.appraisal import RulesAppraiser

    run = write_person_run(tmp_path, "leak", "r", follow_rules, clients=CLIENTS[:1], sessions=2, turns=4)
    seen: list[tuple[str, list[Turn]]] = []
    appraise = RulesAppraiser.appraise

    def watch_appraisal(self, context):
        seen.append(("appraisal", list(context.turns)))
        return appraise(self, context)

    administer = questionnaires.administer

    def watch_answers(llm, instrument, profile, state, index, seed, *, mode="model", turns=None, week=None):
        seen.append((instrument.key, list(turns or [])))
        return administer(llm, instrument, profile, state, index, seed, mode=mode, turns=turns, week=week)

    monkeypatch.setattr(RulesAppraiser, "appraise", watch_appraisal)
    monkeypatch.setattr(simulated_client, "administer", watch_answers)
    run_human_validity([run], tmp_path / "out", appraisal="rules", self_report="latent")
    records = [json.loads(line) for line in (run / "sessions.jsonl").read_text().splitlines()]
    appraised = [turns for kind, turns in seen if kind == "appraisal"]
    assert len(appraised) == 8 and all(isinstance(turns[-1], CounselorTurn) for turns in appraised)
    # The turns as recorded, nothing of the person's ratings in them.
    assert all("rating" not in t.to_dict() for turns in appraised for t in turns)
    full = records[0]["turns"]
    assert [len(turns) for turns in appraised[:4]] == [1, 3, 5, 7] and [t.to_dict() for t in appraised[3]] == full
    ends = [turns for kind, turns in seen if kind == "wai_sr"]
    assert ends and all(isinstance(turns[-1], CounselorTurn) for turns in ends)


def test_the_replayed_week_does_the_homework_the_person_heard_not_what_the_memory_holds(tmp_path, monkeypatch):
    """Issue 22's rule in the replay too: homework follows the closing turn the person heard (as the course they
    played decided it), whatever the counselor's memory says."""
    from muspsy_sim.agents.client import SimulatedClient
    from muspsy_sim.agents.client.dynamics import DynamicsParams
    from muspsy_sim.agents.llm import Sampling
    from muspsy_sim.simulation.engine.components import role_model
    from muspsy_sim.simulation.record.run_log import RunLog
    from muspsy_sim.simulation.validity import human_replay

    run = RunLog.open(write_person_run(tmp_path, "heard", "r", follow_rules, clients=CLIENTS[:1], sessions=2))
    records = sorted(run.sessions, key=lambda r: r.session_index)
    assert records[0].memory.counseling_assignments  # the memory holds an assignment either way
    weeks: list[bool] = []
    between = human_replay.between_sessions

    def watch(state, events, had_assignment, params, rng, **kwargs):
        weeks.append(had_assignment)
        return between(state, events, had_assignment, params, rng, **kwargs)

    monkeypatch.setattr(human_replay, "between_sessions", watch)
    client = SimulatedClient(role_model(run.config.models.client), Sampling(), DynamicsParams.from_overrides({}),
                             appraisal="rules", self_report="latent")
    profile = run.profiles()[CLIENTS[0]]
    human_replay.replay_course(run.name, profile, records, client, 0)
    # The person left before the closing turn of session 1: no assignment heard, no homework that week.
    left = records[0].model_copy(update={"turns": records[0].turns[:-2]})
    human_replay.replay_course(run.name, profile, [left, records[1]], client, 0)
    assert weeks == [True, False]


def test_the_conversation_level_shuffle_keeps_whole_conversations():
    rng = np.random.default_rng(0)
    assert aligned([1.0, 2.0, 3.0, 4.0], [10.0, 20.0]) == [(1.0, 10.0), (2.0, 10.0), (3.0, 20.0), (4.0, 20.0)]
    # Within every conversation the person's ratings rise with the simulated ones, but the conversations'
    # levels differ at random: pairs permuted across conversations keep the within-conversation order,
    # so a position trend survives the control; ratings that only differ between conversations do not.
    trend = [Group(str(i), str(i), [(1.0, 1.0 + i % 3), (2.0, 2.0 + i % 3), (3.0, 3.0 + i % 3)]) for i in range(12)]
    mean, low, high = conversation_shuffled(trend, seed=1)
    assert mean > 0.3 and low > 0
    level = [Group(str(i), str(i), [(float(v), float(v))]) for i, v in enumerate(rng.permutation(12))]
    mean, low, high = conversation_shuffled(level, seed=1)
    assert abs(mean) < 0.15 and low < 0 < high


def test_krippendorff_alpha_matches_the_published_example():
    """Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders, 12 units; nominal 0.743,
    ordinal 0.815, interval 0.849 (computed with NLTK's AnnotationTask and the ordinal distance built here)."""
    coders = {"A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None], "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
              "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None], "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None]}
    units = {str(u): {c: float(v[u]) for c, v in coders.items() if v[u] is not None} for u in range(12)}
    assert krippendorff_alpha(units, "nominal")["alpha"] == pytest.approx(0.743, abs=0.001)
    assert krippendorff_alpha(units, "interval")["alpha"] == pytest.approx(0.849, abs=0.001)
    result = krippendorff_alpha(units)
    assert result["level"] == "ordinal" and result["alpha"] == pytest.approx(0.815, abs=0.001)
    assert result["units"] == 11 and result["raters"] == 4  # unit 12 has one value: not pairable
    assert result["pairable_values"] == 40
    # Undefined without disagreement to measure against (NLTK itself would answer 1): None.
    assert krippendorff_alpha({"u": {"a": 3.0}})["alpha"] is None
    assert krippendorff_alpha({"u": {"a": 3.0, "b": 3.0}, "v": {"a": 3.0, "b": 3.0}})["alpha"] is None
    with pytest.raises(ValueError):
        krippendorff_alpha(units, "ratio")


def test_the_ordinal_distance_is_krippendorffs():
    """delta(c, k) = (sum of n_g from c to k - (n_c + n_k) / 2)^2 over the pooled frequencies; 0 for c = k."""
    distance = ordinal_distance({1.0: 3, 2.0: 5, 4.0: 2})
    assert distance(1.0, 1.0) == 0
    assert distance(1.0, 2.0) == distance(2.0, 1.0) == (3 + 5 - (3 + 5) / 2) ** 2
    assert distance(1.0, 4.0) == (3 + 5 + 2 - (3 + 2) / 2) ** 2  # a value no one gave (3) adds nothing


def test_the_ratings_table_joins_people_and_the_simulated_client(tmp_path):
    runs = _runs(tmp_path, follow_rules, raters=1)
    run_human_validity(runs, tmp_path / "out", appraisal="rules", self_report="latent")
    rows = list(csv.DictReader((tmp_path / "out" / "ratings.csv").open()))
    person = {(r["session_index"], r["turn"], r["item"]): r for r in rows if r["client"] == "human" and r["kind"] == "turn"}
    simulated = {(r["session_index"], r["turn"], r["item"]): r for r in rows
                 if r["client"] == "simulated" and r["kind"] == "turn"}
    assert set(simulated) <= set(person) and len(simulated) == 3 * len(person) // 4  # no rules "want to go on"
    assert all(r["source"] == "rules" and r["rating"] == "" for r in simulated.values())
    assert {r["source"] for r in rows if r["client"] == "human"} == {"human"}
    assert any(r["kind"] == "questionnaire" and r["client"] == "simulated" and r["source"] == "latent-readout"
               for r in rows)


def test_validity_human_refuses_runs_nobody_played(tmp_path):
    from tests.conftest import scripted_config

    config = scripted_config(tmp_path, sessions=1, max_turns=1, scenarios=["gad-priya-38"])
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    result = runner.invoke(app, ["validity", "human", str(tmp_path / "runs" / "scripted"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "no session played by a person" in result.output
    assert not (tmp_path / "o").exists()


def test_the_judge_recovers_planted_session_ratings_on_esconv(tmp_path):
    path = write_judged(tmp_path / "judged.json")
    result = runner.invoke(app, ["validity", "esconv", str(path), "--self-report", "latent", "--judge",
                                 "--judge-model", "testdouble/scripted", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "judge_empathy (judge)" in result.output
    judged = json.loads((tmp_path / "out" / "validity.json").read_text())["judge"]
    assert judged["model"] == "testdouble/scripted" and judged["methods"] == {"likelihood-calibrated": 40}
    for target in ("judge_empathy", "judge_relevance"):
        figures = judged["targets"][target]
        assert figures["n"] == 20 and figures["rho"] > 0.8 and figures["ci_low"] > 0.5, figures
        assert abs(figures["shuffled_rho"]) < 0.15 and figures["shuffled_low"] < 0 < figures["shuffled_high"]


def test_the_judge_reads_nothing_after_the_supporters_last_turn():
    from muspsy_sim.simulation.validity.judge_check import until_last_supporter_turn

    turns = [ChatTurn("counselor", "Hi."), ChatTurn("client", "Hello.", 4), ChatTurn("counselor", "How are you?"),
             ChatTurn("client", "Thanks, bye.", 5)]
    assert until_last_supporter_turn(turns) == [turn.as_turn() for turn in turns[:3]]
    assert until_last_supporter_turn(turns[1:2]) == []


def test_the_model_appraiser_rates_every_item_through_the_client_model(tmp_path):
    runs = _runs(tmp_path, unrelated, raters=2)
    written = run_human_validity(runs, tmp_path / "out", client_model="testdouble/scripted", appraisal="model",
                                 self_report="model", judge=True, judge_model="testdouble/scripted")
    # 8 sessions x 5 counselor turns, each rated on 4 items by the client's model (the test double).
    assert written["methods"]["appraisal"] == {"likelihood-calibrated": 8 * 5 * 4}
    assert written["targets"]["engagement"]["n"] == 40 and set(written["methods"]["self_report"]) == {
        "likelihood-calibrated"}
    assert written["judge"]["targets"]["judge_empathy"]["n"] == 8
    rows = list(csv.DictReader((tmp_path / "out" / "ratings.csv").open()))
    model_rows = [r for r in rows if r["client"] == "simulated" and r["kind"] == "turn"]
    assert len(model_rows) == 8 * 5 * 4 and all(r["source"] == "model" and r["rating"] in "12345" for r in model_rows)


def test_answers_the_clients_model_did_not_give_are_left_out_and_counted(tmp_path, monkeypatch):
    """A filled-in appraisal item pairs with nothing (not the scale's middle beside the person's rating), and the
    session's later answers go (its state moved on it); a scale with a filled-in answer is None. Each counted."""
    from muspsy_sim.agents.client import questionnaires, simulated_client
    from muspsy_sim.agents.client.appraisal import RulesAppraiser
    from muspsy_sim.simulation.validity.human_harness import human_table

    runs = _runs(tmp_path, follow_rules, raters=1)
    clean = run_human_validity(runs, tmp_path / "clean", appraisal="rules", self_report="latent")
    appraise, administer = RulesAppraiser.appraise, questionnaires.administer

    def filled_in_appraisal(self, context):
        appraisal, used = appraise(self, context)
        if (context.profile.id, context.session_index) == (CLIENTS[0], 1):
            appraisal = appraisal.model_copy(update={"filled_in": ["empathy"], "methods": {"fallback": 1}})
        return appraisal, used

    def filled_in_answers(llm, instrument, profile, *args, **kwargs):
        result, used = administer(llm, instrument, profile, *args, **kwargs)
        if (instrument.key, profile.id) == ("gad7", CLIENTS[1]):
            result = result.model_copy(update={"filled_in": [1], "methods": {**result.methods, "fallback": 1}})
        return result, used

    monkeypatch.setattr(RulesAppraiser, "appraise", filled_in_appraisal)
    monkeypatch.setattr(simulated_client, "administer", filled_in_answers)
    written = run_human_validity(runs, tmp_path / "out", appraisal="rules", self_report="latent")
    left_out = written["filled_in_left_out"]
    gad7_moments = clean["targets"]["gad7"]["n"] // 2  # the same moments for both clients
    assert left_out["empathy"] == 5 and left_out["gad7"] == gad7_moments
    assert {"wai_sr.goal", "wai_sr.bond", "panas.positive"} <= set(left_out)  # after the session's turns
    assert "phq9" not in left_out  # measured before the turns, every answer given
    for name, figures in clean["targets"].items():  # every pair is kept or counted as left out
        assert written["targets"][name]["n"] + left_out.get(name, 0) == figures["n"], name
    assert "Pairs left out, the simulated side filled in: empathy 5" in str(human_table(written).caption)


def test_the_judge_reads_the_session_as_eval_does_and_nothing_after_the_last_counselor_turn(tmp_path, monkeypatch):
    """`validity human --judge`: the program's turns masked (eval's ``judged_turns``), the person's closing words
    (which may state the verdict) cut off as on ESConv, and a seed of its own per session."""
    from muspsy_sim.agents.judge import Judge
    from muspsy_sim.simulation.evaluation.run_eval import SCAFFOLD_MASK

    run = write_person_run(tmp_path, "judged", "r", follow_rules, clients=CLIENTS, sessions=2)
    lines = (run / "sessions.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        record["turns"][0]["source"] = "template"  # the program's opening check-in
        record["turns"].append({"speaker": "client", "text": "VERDICT: that was wonderful, thank you.", "appraisal": None,
                                "disclosed_fact": None, "risk_disclosed": False, "source": "human"})
    (run / "sessions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    read: list[tuple[list[Turn], int]] = []
    rate = Judge.rate

    def watch(self, turns, session_index, pseudonym, seed):
        read.append((list(turns), seed))
        return rate(self, turns, session_index, pseudonym, seed)

    monkeypatch.setattr(Judge, "rate", watch)
    written = run_human_validity([run], tmp_path / "out", appraisal="rules", self_report="latent", judge=True,
                                 judge_model="testdouble/scripted")
    assert len(read) == 4 and written["judge"]["targets"]["judge_empathy"]["n"] == 4
    for turns, _ in read:
        assert isinstance(turns[-1], CounselorTurn) and not any("VERDICT" in t.text for t in turns)
        assert turns[0].text == SCAFFOLD_MASK and turns[1].text != SCAFFOLD_MASK
    assert len({seed for _, seed in read}) == 4


def test_the_replayed_client_has_the_traits_a_campaign_of_the_run_draws_for_the_profile(tmp_path, monkeypatch):
    """Under the calibrated dynamics a campaign's client has traits (drawn per profile and seed, pinned ones kept);
    the replayed client is that client, not a neutral one: the same traits as a campaign of the run's seed."""
    from muspsy_sim.agents.client.appraisal import RulesAppraiser
    from muspsy_sim.simulation.record.run_log import RunLog
    from tests.conftest import scripted_config

    person = RunLog.open(write_person_run(tmp_path, "played", "r", follow_rules, clients=CLIENTS, sessions=1))
    (tmp_path / "campaign").mkdir()
    config = scripted_config(tmp_path / "campaign", scenarios=list(CLIENTS), sessions=1, max_turns=1)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    campaign = RunLog.open(tmp_path / "campaign" / "runs" / "scripted")
    assert campaign.config.seed == person.config.seed and not campaign.config.client_dynamics.get("preset")
    drawn = {client: campaign.manifest.courses[client].traits for client in CLIENTS}
    assert all(traits is not None for traits in drawn.values())
    seen: dict[str, object] = {}
    appraise = RulesAppraiser.appraise

    def watch(self, context):
        seen[context.profile.id] = context.state.traits
        return appraise(self, context)

    monkeypatch.setattr(RulesAppraiser, "appraise", watch)
    run_human_validity([person.path], tmp_path / "out", appraisal="rules", self_report="latent", seed=7)
    assert seen == drawn
