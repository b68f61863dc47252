"""Memory-consistency metrics (follow-up, contradictions, references back) on hand-built trajectories with known
answers, and on a scripted run; retrieval recall has its own tests (test_retrieval_recall.py)."""

from __future__ import annotations

import json

import pytest

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.evaluation import consistency
from muspsy_sim.simulation.evaluation.consistency import SessionConsistency, content_words, overlap
from muspsy_sim.simulation.record.schema import SessionRecord

CAMPAIGN = "test"


def consistency_metrics(records: list[dict], profile: CaseProfile, **options) -> dict[int, SessionConsistency]:
    """The metrics of records built here as plain data (easy to edit), read as a run reads them."""
    return consistency.consistency_metrics([SessionRecord.model_validate(r) for r in records], profile, **options)


ASSIGNMENT = "This week, try writing down one worrying thought each evening and one kinder answer to it."
CHECK_IN = f"Welcome back, Priya. Last time we agreed on this assignment: {ASSIGNMENT} How did it go this week?"
FACT_0 = "She secretly checks her children's breathing at night several times a week."
FACT_1 = "She feels resentful that her brothers leave all care of their parents to her."


def priya_profile() -> CaseProfile:
    """The case these trajectories were written for (two private facts: FACT_0, FACT_1)."""
    return CaseProfile.model_validate({
        "id": "gad-priya-38",
        "pseudonym": "Priya",
        "age": 38,
        "gender": "female",
        "occupation": "project manager",
        "presenting_problem": "Constant worry about work deadlines and her family's health.",
        "background": "Lives with her husband and two children.",
        "personality": "Conscientious.",
        "speaking_style": "Fast, apologetic.",
        "private_facts": [{"text": FACT_0, "trust_threshold": 5}, {"text": FACT_1, "trust_threshold": 6}],
        "initial_state": {"distress": 6},
        "course_plan": [{"emotional_state": "tense", "cognitive_state": "worried", "goal": "assess"}],
    })


@pytest.fixture
def profile() -> CaseProfile:
    return priya_profile()


def counselor(text: str, stage: str = "middle", retrieved: list[int | str] = (), source: str | None = None) -> dict:
    """A counselor turn; ``retrieved`` names store records: 1 (session 1's memory) or "s1:chunk1", which the
    store returned to the turn (``store_returned``). The built-in check-in is the program's (source template)."""
    items = []
    for item in retrieved:
        suffix = f"s{item}:memory" if isinstance(item, int) else item
        items.append({"id": f"{CAMPAIGN}:gad-priya-38:{suffix}", "client_id": "gad-priya-38",
                      "session_index": int(suffix.split(":")[0][1:]), "kind": "memory", "text": "...",
                      "distance": 0.1})
    source = source or ("template" if "Last time we agreed on this assignment" in text else "model")
    return {"speaker": "counselor", "text": text, "stage": stage, "source": source, "retrieved": items,
            "store_returned": [item["id"] for item in items]}


def client(text: str, fact: int | None = None) -> dict:
    return {"speaker": "client", "text": text, "disclosed_fact": fact}


def record(index: int, turns: list[dict], assignment: str = ASSIGNMENT, week: dict | None = None) -> dict:
    return {
        "campaign": CAMPAIGN, "client_id": "gad-priya-38", "session_index": index, "goal": "work on worry",
        "turns": turns,
        "memory": {"counseling_assignments": assignment, "summary": "a session."},
        "week_before": week if index > 1 else None,
    }


def session_one(opening: str = "Hello Priya, thank you for coming. What is on your mind today?") -> dict:
    return record(1, [
        counselor(opening, "opening"),
        client("I am tense and restless all the time."),
        counselor("That sounds exhausting, Priya. When is it worst?"),
        client("At night. " + FACT_0, fact=0),
        counselor(ASSIGNMENT, "closing"),
    ])


def session_two(opening: str, second: str = "I see. Tell me more about that, Priya.", **kw) -> dict:
    week = {"life_events": ["A client moved a key deadline forward by a week."],
            "random_events": ["went for a long walk and felt lighter"], "homework_done": True}
    return record(2, kw.get("turns") or [
        counselor(opening, "opening", retrieved=[1], source=kw.get("source")),
        client("It went okay, I managed most evenings."),
        counselor(second, retrieved=[1]),
        client("My boss moved the deadline again."),
        counselor("This week, try one short walk each day when worry builds.", "closing"),
    ], week=week)


def test_content_words_and_overlap():
    assert content_words("This week, try writing down one worrying thought") == {"writing", "worrying", "thought"}
    assert content_words("Worries and thoughts") == {"worrie", "thought"}
    assert overlap("writing thoughts", "I kept writing my thought down") == 1.0
    assert overlap("", "anything") == 0.0


def test_session_one_follow_up_is_none_and_faithful_counselor_is_clean(profile):
    metrics = consistency_metrics([session_two(CHECK_IN), session_one()], profile)
    assert sorted(metrics) == [1, 2]
    assert metrics[1].followed_up_assignment is None
    assert metrics[1].recall.recall_at_k is None
    for session in (1, 2):
        assert metrics[session].contradiction_rate == 0.0
        assert metrics[session].contradictions == ()


def test_template_check_in_follows_up_for_the_scaffold_not_the_model(profile):
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN)], profile)
    assert metrics[2].followed_up_assignment == 0.0 and metrics[2].scaffold_followed_up == 1.0
    assert metrics[2].scaffold()["followed_up_assignment"] == 1.0 and metrics[2].metrics()["followed_up_assignment"] == 0.0


def test_follow_up_in_second_counselor_turn_counts(profile):
    second = "Last time you planned to write down worrying thoughts in the evening. Did the writing help?"
    metrics = consistency_metrics([session_one(), session_two("Hello Priya, good to see you.", second)], profile)
    assert metrics[2].followed_up_assignment == 1.0
    assert metrics[2].contradictions == ()


def test_ignoring_the_assignment_scores_zero(profile):
    metrics = consistency_metrics([session_one(), session_two("Hello Priya. What would you like to talk about?")],
                                  profile)
    assert metrics[2].followed_up_assignment == 0.0
    assert metrics[2].contradiction_rate == 0.0


def test_invented_homework_in_session_one(profile):
    metrics = consistency_metrics([session_one("Hi Priya. How did the breathing homework go?")], profile)
    kinds = [c.kind for c in metrics[1].contradictions]
    assert kinds == ["invented_homework"]
    assert metrics[1].contradictions[0].turn_index == 0
    assert metrics[1].contradiction_rate == pytest.approx(1 / 3)


def test_setting_homework_at_the_close_is_not_invented(profile):
    first = session_one()
    first["turns"][-1] = counselor("For homework this week, try writing down one worrying thought each evening.",
                                   "closing")
    assert consistency_metrics([first], profile)[1].contradictions == ()


def test_wrong_assignment_in_later_session_is_invented(profile):
    opening = "Welcome back, Priya. How did the sleep diary homework go?"
    metrics = consistency_metrics([session_one(), session_two(opening)], profile)
    assert [c.kind for c in metrics[2].contradictions] == ["invented_homework"]
    assert metrics[2].followed_up_assignment == 0.0


def test_wrong_name(profile):
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN.replace("Priya", "Maria"))], profile)
    contradictions = metrics[2].contradictions
    assert [c.kind for c in contradictions] == ["wrong_name"]
    assert "Maria" in contradictions[0].evidence
    # The wrong name is the template's: the scaffold's turns carry it, the model's two are clean.
    assert metrics[2].contradiction_rate == 0.0 and metrics[2].scaffold_contradiction_rate == 1.0
    assert metrics[2].followed_up_assignment == 0.0 and metrics[2].scaffold_followed_up == 1.0
    model_says_it = consistency_metrics([session_one(), session_two(CHECK_IN.replace("Priya", "Maria"), source="model")],
                                        profile)
    assert model_says_it[2].contradiction_rate == pytest.approx(1 / 3)


def test_wrong_event(profile):
    second = "You mentioned your sister's wedding in Paris was stressful."
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN, second)], profile)
    assert [c.kind for c in metrics[2].contradictions] == ["wrong_event"]
    assert metrics[2].contradictions[0].turn_index == 2


def test_true_event_is_not_a_contradiction(profile):
    second = "You mentioned you check on your children's breathing at night."
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN, second)], profile)
    assert metrics[2].contradictions == ()


# --- ground truth is what the client heard (issue 16, point 1) ----------------------------------------------


def test_follow_up_is_measured_against_the_closing_turn_not_the_counselors_memory(profile):
    """A counselor whose memory invents an assignment and quotes it back does not score a follow-up."""
    first = session_one()
    first["memory"]["counseling_assignments"] = "Keep a sleep diary every morning and count the cups of coffee."
    quoting_own_memory = ("Welcome back, Priya. Last time we agreed on this assignment: Keep a sleep diary every "
                          "morning and count the cups of coffee. How did it go this week?")
    metrics = consistency_metrics([first, session_two(quoting_own_memory)], profile)
    assert metrics[2].followed_up_assignment == 0.0 and metrics[2].scaffold_followed_up == 0.0
    assert [c.kind for c in metrics[2].contradictions] == ["invented_homework"]
    # Quoting what was said at the close of session 1 still counts, whatever the memory says.
    assert consistency_metrics([first, session_two(CHECK_IN)], profile)[2].scaffold_followed_up == 1.0
    assert consistency_metrics([first, session_two(CHECK_IN, source="model")], profile)[2].followed_up_assignment == 1.0


def test_only_a_closing_turn_agrees_an_assignment(profile):
    first = session_one()
    first["turns"] = first["turns"][:-1]  # the client left before the close: nothing was agreed
    metrics = consistency_metrics([first, session_two(CHECK_IN)], profile)
    assert metrics[2].followed_up_assignment is None


def test_the_heard_assignment_is_the_assignment_part_of_the_closing_turn():
    closing = SessionRecord.model_validate(record(1, [
        counselor("Hello Priya.", "opening"), client("Hi."),
        counselor("Thank you for today, Priya, you worked hard. This week, try a short walk after lunch.", "closing"),
    ]))
    assert consistency.heard_assignment(closing) == "This week, try a short walk after lunch."


# --- references back next to the contradiction rate (point 3) -----------------------------------------------


def test_references_back_are_counted_beside_the_contradiction_rate(profile):
    silent = consistency_metrics([session_one(), session_two("Hello Priya. What would you like to talk about?")],
                                 profile)
    assert silent[2].contradiction_rate == 0.0 and silent[2].references_back == 0
    second = "You mentioned you check on your children's breathing at night."
    talking = consistency_metrics([session_one(), session_two(CHECK_IN, second)], profile)
    assert talking[2].contradiction_rate == 0.0 and talking[2].references_back == 1  # the model's turn
    assert talking[2].scaffold_references_back == 1  # the template check-in
    assert silent[2].scaffold_references_back is None  # the program wrote no turn
    assert talking[1].references_back == 0  # setting homework at the close is not a reference back


def test_records_of_two_clients_are_refused(profile):
    other = session_one()
    other["client_id"] = "insomnia-david-47"
    with pytest.raises(ValueError):
        consistency_metrics([session_one(), other], profile)


def test_scripted_run_is_consistent(tmp_path):
    from typer.testing import CliRunner

    from muspsy_sim.scenarios.loader import load_profile
    from muspsy_sim.simulation.cli import app
    from tests.conftest import LIBRARY, scripted_config

    path = scripted_config(tmp_path)
    result = CliRunner().invoke(app, ["run", "--config", str(path), "--no-progress"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "runs" / "scripted" / "sessions.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    clients = sorted({r["client_id"] for r in records})
    assert clients
    for client_id in clients:
        metrics = consistency_metrics([r for r in records if r["client_id"] == client_id],
                                      load_profile(LIBRARY / f"{client_id}.yaml"))
        assert sorted(metrics) == [1, 2, 3]
        assert metrics[1].followed_up_assignment is None
        for session, values in metrics.items():
            if session >= 2:
                # The template check-in follows up; the double's own turns never do.
                assert values.scaffold_followed_up == 1.0, (client_id, session)
                assert values.followed_up_assignment == 0.0, (client_id, session)
            assert values.contradictions == (), (client_id, session, values.contradictions)
            assert values.contradiction_rate == 0.0


FIXED = "I hear you, and I would like to understand more about that."


def test_words_the_program_began_a_turn_with_are_never_the_models(profile):
    """A model that says one sentence every turn is credited nothing for the program's words at the start of
    its turn (``prefilled``): whatever they say, follow-up, references back and contradictions read its own."""
    def prefilled(program_words: str, stage: str = "middle") -> dict:
        return {**counselor(f"{program_words} {FIXED}", stage), "prefilled": program_words}

    follow_up = "Last time we agreed you would write down one worrying thought each evening."
    invented = "Last time we agreed on a sleep diary homework."
    second = record(2, [counselor(FIXED, "opening"), client("It went okay."), prefilled(follow_up),
                        client("Fine."), prefilled(invented), client("Ok."),
                        prefilled("This week, try", "closing")])
    metrics = consistency_metrics([session_one(), second], profile)[2]
    assert metrics.followed_up_assignment == 0.0 and metrics.references_back == 0
    assert metrics.contradictions == () and metrics.contradiction_rate == 0.0
    # The same words as the model's own are credited (the check is not blind to them).
    owned = record(2, [counselor(FIXED, "opening"), client("It went okay."), counselor(follow_up + " " + FIXED)])
    assert consistency_metrics([session_one(), owned], profile)[2].followed_up_assignment == 1.0
