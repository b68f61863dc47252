"""The client lives in what it heard (issue 22, point 3): its homework follows the closing turn's
assignment, never the counselor's memory of the session."""

from __future__ import annotations

from langgraph.checkpoint.memory import InMemorySaver

from muspsy_sim.agents.client.simulated_client import SimulatedClient
from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor
from muspsy_sim.agents.llm import Sampling
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.agents.llm.spec import ModelSpec
from muspsy_sim.scenarios.loader import LIBRARY_DIR, load_library
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, heard_assignment
from muspsy_sim.simulation.engine.course_graph import build_course_graph, initial_course_state
from muspsy_sim.simulation.engine.states import RunContext

ASSIGNMENT = "This week, try a ten-minute walk after lunch each day."
MEMORY = {"session_index": 1, "emotion_and_cognitive_state": "tense", "counselor_observations": "guarded",
          "counseling_assignments": ASSIGNMENT, "session_goal": "assess", "summary": "a first session.",
          "filled_in": []}


class _Recorder:
    def append_session(self, record) -> bool:
        return True


def _week_after(turns, memory=MEMORY, seed=3) -> dict:
    """The week the course graph's ``evolve`` gives the client after a session with ``turns`` and ``memory``."""
    profile = load_library(LIBRARY_DIR)["gad-priya-38"]
    llm = LiteLLMModel(ModelSpec.parse("testdouble/scripted"))
    graph = build_course_graph(MusPsyCounselor(llm, Sampling()), SimulatedClient(llm, Sampling()), None,
                               _Recorder()).compile(checkpointer=InMemorySaver(), interrupt_before=["plan"])
    thread = {"configurable": {"thread_id": "heard"}}
    start = initial_course_state(profile)
    state = {**start, "turns": [t.to_dict() for t in turns], "memory": memory, "goal": "assess", "goal_source": "model",
             "ended_by": "client", "usage": {}, "questionnaires": {}, "client_state_start": start["client_state"]}
    graph.update_state(thread, state, as_node="memorize")  # the session is over: record it, then the week
    graph.invoke(None, thread, context=RunContext(campaign="heard", seed=seed, sessions=3, max_turns=3))
    values = graph.get_state(thread).values
    assert values["session_index"] == 2
    return values["week"]


def test_a_client_who_left_before_the_closing_turn_does_no_homework_whatever_the_memory_holds():
    left = [CounselorTurn(text="Hello Priya, what brings you here?", stage="opening", source="model"),
            ClientTurn(text="I have to go, this is not helping. Goodbye.")]
    assert heard_assignment(left) is None
    for seed in range(5):  # homework is drawn by chance when there is an assignment: never here
        assert _week_after(left, seed=seed)["homework_done"] is None


def test_homework_follows_the_closing_turn_the_client_heard_not_the_memory():
    heard = [CounselorTurn(text="Hello Priya, what brings you here?", stage="opening", source="model"),
             ClientTurn(text="Work is too much."),
             CounselorTurn(text=f"Thank you, Priya. {ASSIGNMENT}", stage="closing", source="model")]
    assert heard_assignment(heard) == ASSIGNMENT
    empty_memory = {**MEMORY, "counseling_assignments": ""}
    weeks = [_week_after(heard, memory=empty_memory, seed=seed) for seed in range(5)]
    assert all(isinstance(week["homework_done"], bool) for week in weeks)
