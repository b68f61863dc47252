"""The MusPsy counselor, its baselines, and plugging in a counselor by import path."""

import pytest

from muspsy_sim.agents.counselor import SessionContext, build_counselor, resolve_counselor_class
from muspsy_sim.agents.counselor.base import PromptRenderer
from muspsy_sim.agents.counselor.muspsy import parse_memory_fields
from muspsy_sim.agents.counselor.registry import UnknownCounselor, build_prompt_renderer
from muspsy_sim.agents.llm import FailedStep, Sampling
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.simulation.core.course import SessionMemory
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, RetrievedMemory
from tests.conftest import LIBRARY
from tests.fakes import RecordingModel

PROFILE = load_profile(LIBRARY / "gad-priya-38.yaml")
MEMORY = SessionMemory(session_index=1, counseling_assignments="This week, try a worry diary.", summary="First session.")
EARLIER = (CounselorTurn(text="Hello Priya."), ClientTurn(text="My manager emails at night."))


class FakeStore:
    def __init__(self):
        self.queries = []

    def search(self, client_id, before_session, query, k):
        self.queries.append((client_id, before_session, query, k))
        return [RetrievedMemory(id="c:gad-priya-38:s1:memory", client_id=client_id, session_index=1, kind="memory",
                                text="worry diary agreed", distance=0.1)]


def _context(goal="Practise a worry diary."):
    return SessionContext(PROFILE, 2, goal, memories=(MEMORY,), transcripts=(EARLIER,))


def _counselor(name, **options):
    llm, store = RecordingModel(), FakeStore()
    return build_counselor(name, llm=llm, sampling=Sampling(), store=store, top_k=3, options=options), llm, store


def test_muspsy_opens_with_the_last_assignment_and_retrieves():
    counselor, llm, store = _counselor("muspsy")
    opening = counselor.respond(_context(), [], "opening", seed=1)
    assert "This week, try a worry diary." in opening.text and opening.source == "template"
    turn = counselor.respond(_context(), [CounselorTurn(text=opening.text), ClientTurn(text="I did it twice.")],
                             "middle", seed=2)
    assert turn.retrieved[0].session_index == 1
    assert store.queries[-1] == ("gad-priya-38", 2, "I did it twice.", 3)
    system = llm.prompts[-1][0]["content"]
    assert "worry diary agreed" in system and "Assignment: This week, try a worry diary." in system
    # MusPsy task 3 order: instruction, then (client, counselor) history, ending on the client.
    assert [m["role"] for m in llm.prompts[-1]] == ["system", "user", "assistant", "user"]


def test_closing_states_an_assignment():
    counselor, llm, _ = _counselor("muspsy")
    turn = counselor.respond(_context(), [ClientTurn(text="ok")], "closing", seed=3)
    assert turn.text.startswith("This week, try ")
    assert llm.prompts[-1][-1] == {"role": "assistant", "content": "This week, try"}


FIXED = "I hear you, and I would like to understand more about that."


def test_the_closing_prefix_is_recorded_as_the_programs_not_the_models():
    # A model that says one sentence whatever it is asked ignores the prefill; the client hears the prefix
    # joined in front of it, and the turn marks those words as the program's.
    for scaffold, heard, prefilled in (("on", f"This week, try {FIXED}", "This week, try"), ("off", FIXED, None)):
        counselor = build_counselor("muspsy", llm=RecordingModel(lambda messages: FIXED), sampling=Sampling(),
                                    options={"scaffold": scaffold})
        reply = counselor.respond(_context(), [ClientTurn(text="ok")], "closing", seed=3)
        assert (reply.text, reply.source, reply.prefilled) == (heard, "model", prefilled)
        turn = CounselorTurn(text=reply.text, stage="closing", source=reply.source, prefilled=reply.prefilled)
        assert turn.own_text == FIXED
        assert ("prefilled" in turn.to_dict()) == (prefilled is not None)
    # A model that continues the prefill (the local engine): the same mark, its words after the prefix.
    counselor, _, _ = _counselor("muspsy")
    reply = counselor.respond(_context(), [ClientTurn(text="ok")], "closing", seed=3)
    assert reply.prefilled == "This week, try" and reply.text.startswith("This week, try writing")


def test_goal_is_the_first_line_with_words_and_a_bare_label_is_no_goal():
    def goal_of(reply: str, scaffold: str = "on"):
        llm = RecordingModel(lambda messages: reply)
        counselor = build_counselor("muspsy", llm=llm, sampling=Sampling(), options={"scaffold": scaffold})
        return counselor.plan_goal(_context(), seed=2), llm

    goal, _ = goal_of("**Session goal:**\nHelp the client sleep through the night.")
    assert (goal.text, goal.source) == ("Help the client sleep through the night.", "model")
    goal, _ = goal_of("## Goal: Reduce worry about work deadlines")
    assert (goal.text, goal.source) == ("Reduce worry about work deadlines", "model")
    # A bare label is asked again; with the scaffold the template goal stands in, marked.
    goal, llm = goal_of("**Session goal:**")
    assert goal.source == "fallback" and len(llm.prompts) > 1 and goal.text.startswith("Review the last assignment")
    # Without the scaffold there is no template goal: the step fails after the re-asks.
    with pytest.raises(FailedStep, match="no goal"):
        goal_of("Session goal:", scaffold="off")


def test_no_memory_sees_nothing_from_earlier_sessions():
    counselor, llm, store = _counselor("no-memory")
    opening = counselor.respond(_context(), [], "opening", seed=1)
    assert opening.source == "model" and not opening.retrieved
    counselor.plan_goal(_context(), seed=2)
    assert store.queries == []
    assert all("try a worry diary" not in m["content"] and "manager emails" not in m["content"]
               for prompt in llm.prompts for m in prompt)


def test_full_history_puts_earlier_transcripts_in_the_prompt_within_budget():
    counselor, llm, store = _counselor("full-history", history_chars=40)
    counselor.respond(_context(), [ClientTurn(text="hi")], "middle", seed=1)
    system = llm.prompts[-1][0]["content"]
    assert "manager emails at night." in system and "Hello Priya" not in system  # oldest cut first
    assert store.queries == []


def test_memory_extraction_parses_labelled_lines_and_fills_gaps():
    counselor, _, _ = _counselor("muspsy")
    turns = [CounselorTurn(text="Hi"), ClientTurn(text="I feel tense."),
             CounselorTurn(text="This week, try one breathing break a day.")]
    extracted = counselor.extract_memory(_context(), turns, seed=1)
    assert extracted.memory.counseling_assignments == "This week, try one breathing break a day."

    def silent_model(messages):
        return "I am a small model."

    silent = build_counselor("muspsy", llm=RecordingModel(silent_model), sampling=Sampling())
    memory = silent.extract_memory(_context(), turns, seed=1).memory
    assert memory.counseling_assignments == "This week, try one breathing break a day."
    assert memory.session_goal == "Practise a worry diary."
    assert set(memory.filled_in) >= {"counseling_assignments", "session_goal"}


def test_parse_memory_fields_tolerates_markup():
    text = "**Emotion and cognitive state:** anxious\n- [Counseling Assignments]: keep a diary\nSummary: ...\n"
    assert parse_memory_fields(text) == {"emotion_and_cognitive_state": "anxious", "counseling_assignments": "keep a diary"}


def test_parse_memory_fields_reads_each_label_on_its_own_line():
    # An empty label does not take the next labelled line as its value.
    assert parse_memory_fields("Summary:\nSession goal: build trust") == {"session_goal": "build trust"}
    # Its value may stand on the lines right below it, up to a blank line or the next label.
    text = "Summary:\nThe client spoke of work.\nShe cried.\n\nstray line\nSession goal: build trust"
    assert parse_memory_fields(text) == {"summary": "The client spoke of work. She cried.",
                                         "session_goal": "build trust"}


def test_parse_memory_fields_reads_numbered_and_bulleted_lists():
    text = ("1. Emotion and cognitive state: sad\n2) **Counselor observations:** quiet\n"
            "* Counseling assignments: a walk a day\n4. ### Session goal: trust\n- 5. Summary: short")
    assert parse_memory_fields(text) == {
        "emotion_and_cognitive_state": "sad", "counselor_observations": "quiet",
        "counseling_assignments": "a walk a day", "session_goal": "trust", "summary": "short"}


def test_parse_memory_fields_takes_none_and_na_for_no_value():
    text = "Emotion and cognitive state: None.\nCounseling assignments: N/A.\nSummary: n/a\nSession goal: none"
    assert parse_memory_fields(text) == {}


def test_plugged_in_counselor_by_import_path_and_bad_paths():
    assert resolve_counselor_class("tests.plugins:CrashOnceCounselor").name == "crash-once"
    for name in ("nope", "tests.plugins:Missing", "json:dumps", "no.such.module:X"):
        with pytest.raises(UnknownCounselor):
            resolve_counselor_class(name)


def test_prompt_renderer_is_the_named_counselor_built_without_a_model():
    for name in ("muspsy", "no-memory", "full-history", "tests.plugins:CrashOnceCounselor"):
        options = {"workdir": ".", "crash_at_call": 1} if name.startswith("tests.") else None
        renderer = build_prompt_renderer(name, options=options)
        assert isinstance(renderer, PromptRenderer) and renderer.llm is None
        assert renderer.name == resolve_counselor_class(name).name
    assert build_prompt_renderer("full-history", options={"history_chars": 50}).history_chars == 50
    with pytest.raises(UnknownCounselor, match="does not render its prompts"):
        build_prompt_renderer("tests.plugins:ModelOnlyCounselor")
