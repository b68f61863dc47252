"""Retrieval recall (``recall_at_k``): per planted fact a client turn refers to and the counselor's next
turn takes up, whether the memory store returned a record holding it, counted against the store's own
records and only where the model's turn used it."""

from __future__ import annotations

import pytest

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.evaluation.retrieval import Recall
from muspsy_sim.simulation.record.schema import SessionRecord
from tests.test_consistency import (
    ASSIGNMENT,
    CAMPAIGN,
    CHECK_IN,
    FACT_0,
    FACT_1,
    client,
    consistency_metrics,
    counselor,
    priya_profile,
    record,
    session_one,
    session_two,
)


@pytest.fixture
def profile() -> CaseProfile:
    return priya_profile()


TAKES_IT_UP = "You told me you check their breathing at night. That sounds frightening, Priya."


def _referring_session(retrieved: list[int], index: int = 3, reply: str = TAKES_IT_UP) -> dict:
    return record(index, [
        counselor("Welcome back, Priya. What is on your mind?", "opening", retrieved=[index - 1]),
        client("I still check my children's breathing at night, like I told you."),
        counselor(reply, retrieved=retrieved),
        client("Yes."),
        counselor(ASSIGNMENT, "closing"),
    ])


def test_recall_when_the_record_holding_the_fact_is_retrieved(profile):
    records = [session_one(), session_two(CHECK_IN), _referring_session(["s1:chunk1", 2])]
    metrics = consistency_metrics(records, profile)
    assert metrics[3].recall.recall_at_k == 1.0
    assert metrics[3].recall.referring_turns == 1


def test_recall_when_only_other_records_are_retrieved(profile):
    records = [session_one(), session_two(CHECK_IN), _referring_session([1, 2])]  # memories, without the fact
    metrics = consistency_metrics(records, profile)
    assert metrics[3].recall.recall_at_k == 0.0
    assert metrics[3].recall.referring_turns == 1


def test_lexical_reference_points_at_the_previous_session(profile):
    turns = [
        counselor(CHECK_IN, "opening", retrieved=[1]),
        client("Last time was hard for me."),
        counselor("Last time sounded hard. I hear you, Priya.", retrieved=[1]),
        client("Okay."),
        counselor(ASSIGNMENT, "closing"),
    ]
    metrics = consistency_metrics([session_one(), session_two("", turns=turns)], profile)
    assert metrics[2].recall.recall_at_k == 1.0


def test_recall_none_without_referring_turns(profile):
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN)], profile)
    assert metrics[2].recall.recall_at_k is None
    assert metrics[2].recall.referring_turns == 0


def _session_three(reply_retrieved: list, client_text: str) -> dict:
    return record(3, [
        counselor("Welcome back, Priya. What is on your mind?", "opening"),
        client(client_text),
        counselor("Like you told me last time: that sounds frightening, Priya.", retrieved=reply_retrieved),
        client("Yes."),
        counselor(ASSIGNMENT, "closing"),
    ])


def test_recall_ignores_records_the_store_does_not_hold(profile):
    fabricated = counselor(TAKES_IT_UP)
    fabricated["retrieved"] = [{"id": "invented-1", "client_id": "gad-priya-38", "session_index": 1,
                                "kind": "memory", "text": FACT_0, "distance": 0.0}]
    fabricated["store_returned"] = ["invented-1"]
    third = _session_three([], "I still check my children's breathing at night, like I told you.")
    third["turns"][2] = fabricated
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN), third], profile)
    assert metrics[3].recall.recall_at_k == 0.0 and metrics[3].recall.referred_items == 1


def test_recall_is_per_fact_not_per_session(profile):
    first = session_one()
    first["turns"][1] = client("I am tense. " + FACT_1, fact=1)  # both facts in session 1, in different exchanges
    text = "I still check my children's breathing at night, and my brothers still leave the care of our parents to me."
    one_of_two = consistency_metrics([first, session_two(CHECK_IN), _session_three(["s1:chunk1"], text)], profile)
    assert one_of_two[3].recall.referred_items == 2
    assert one_of_two[3].recall.recall_at_k == 0.5
    both = consistency_metrics([first, session_two(CHECK_IN), _session_three(["s1:chunk0", "s1:chunk1"], text)],
                               profile)
    assert both[3].recall.recall_at_k == 1.0


def test_recall_is_not_applicable_for_a_counselor_that_does_not_retrieve(profile):
    records = [session_one(), session_two(CHECK_IN), _referring_session([])]
    metrics = consistency_metrics(records, profile, retrieves=False)
    # Not applicable: no recall is measured at all (not 0.0), though a client turn refers back; the
    # eval row marks it not_applicable (test_eval).
    assert metrics[3].recall.recall_at_k is None and metrics[3].recall == Recall()
    assert consistency_metrics(records, profile)[3].recall.recall_at_k == 0.0


def test_stored_records_rebuild_the_ids_the_store_wrote(tmp_path):
    """The ids eval checks against are the ids the memory store of a real run holds."""
    from typer.testing import CliRunner

    from muspsy_sim.memory import MemoryStore
    from muspsy_sim.simulation.cli import app
    from muspsy_sim.simulation.evaluation.retrieval import stored_records
    from muspsy_sim.simulation.record.run_log import RunLog
    from tests.conftest import scripted_config

    path = scripted_config(tmp_path, scenarios=["gad-priya-38"], sessions=2, max_turns=2)
    assert CliRunner().invoke(app, ["run", "--config", str(path), "--no-progress"]).exit_code == 0
    run = RunLog.open(tmp_path / "runs" / "scripted")
    store = MemoryStore("scripted", _NoEmbedding(), path=run.path / "chroma")
    held = {hit.id: hit.text for hit in store.records()}
    rebuilt = {}
    for session in run.sessions:
        rebuilt.update(stored_records(session, "scripted"))
    assert rebuilt == held


class _NoEmbedding:
    def embed(self, texts):
        raise AssertionError("reading records needs no embedding")


def test_recall_counts_what_the_store_returned_not_what_the_counselor_reports(profile):
    """A counselor that reports a record the store holds, but that the store never returned to it, recalls nothing."""
    reported = counselor(TAKES_IT_UP, retrieved=["s1:chunk1"])
    reported["store_returned"] = []  # the engine saw no search return it
    third = _referring_session([])
    third["turns"][2] = reported
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN), third], profile)
    assert metrics[3].recall.recall_at_k == 0.0 and not metrics[3].recall.reported_ids
    returned = counselor(TAKES_IT_UP, retrieved=[])
    returned["store_returned"] = [f"{CAMPAIGN}:gad-priya-38:s1:chunk1"]  # what the store returned counts
    third["turns"][2] = returned
    assert consistency_metrics([session_one(), session_two(CHECK_IN), third], profile)[3].recall.recall_at_k == 1.0


def test_a_model_turn_that_ignores_the_reference_earns_no_recall(profile):
    """Retrieval alone is the program's: a model turn that does not take the reference up is not credited."""
    ignoring = consistency_metrics([session_one(), session_two(CHECK_IN),
                                    _referring_session(["s1:chunk1"], reply="Let us talk about your week.")], profile)
    assert ignoring[3].recall.recall_at_k is None and ignoring[3].recall.referred_items == 1


def test_a_sentence_the_program_appended_to_a_client_turn_refers_to_nothing(profile):
    """Recall asks what the client's own words refer to: the sentence the program appended to them (``added``)
    is what the counselor heard, but no reference of the client's."""
    appended = "There is something I have not told you. I still check my children's breathing at night."
    said_by_client = "I am not sure."
    third = _session_three(["s1:chunk1"], f"{said_by_client} {appended}")
    as_own = consistency_metrics([session_one(), session_two(CHECK_IN), third], profile)
    assert as_own[3].recall.referred_items == 1  # the same words as the client's refer to the fact
    third["turns"][1]["added"] = appended
    metrics = consistency_metrics([session_one(), session_two(CHECK_IN), third], profile)
    assert metrics[3].recall.referred_items == 0 and metrics[3].recall.recall_at_k is None
    assert SessionRecord.model_validate(third).turns[1].own_text == said_by_client
