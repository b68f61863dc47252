"""The session graph: counselor turn <-> client turn until the client leaves, turns run out,
or the counselor ends the session. A client played by a person (``PersonClient``) then rates the
session's last counselor turn (``rate_last_turn``), as it rated every one before with its reply."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from muspsy_sim.agents.client.base import Client, PersonClient
from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.counselor.base import Counselor, SessionContext
from muspsy_sim.agents.counselor.session_memory import SessionMemory
from muspsy_sim.agents.llm import sum_usage, usage_of
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.engine.run_context import RunContext
from muspsy_sim.simulation.engine.states import SessionInput, SessionOutput, SessionState
from muspsy_sim.simulation.record.schema import ClientTurnRecord, CounselorTurnRecord, TurnRatingRecord
from muspsy_sim.simulation.seeding import derive_rng, derive_seed


def session_context(state: dict) -> SessionContext:
    return SessionContext(
        profile=CaseProfile.model_validate(state["profile"]),
        session_index=state["session_index"],
        goal=state.get("goal", ""),
        memories=tuple(SessionMemory.model_validate(m) for m in state.get("memories", [])),
        transcripts=tuple(tuple(t) for t in state.get("transcripts", [])),
    )


def _client_turns(turns: list[dict]) -> int:
    return sum(1 for t in turns if t["speaker"] == "client")


def build_session_graph(counselor: Counselor, client: Client) -> StateGraph:
    """A session between ``counselor`` and ``client``; compile it or nest it in a course graph."""
    person = client if isinstance(client, PersonClient) else None
    last = "rate_last_turn" if person is not None else END  # a person rates the session's last counselor turn

    def counselor_turn(state: SessionState, runtime: Runtime[RunContext]) -> dict:
        return _counselor_speaks(state, runtime, "opening" if not state.get("turns") else "middle")

    def closing(state: SessionState, runtime: Runtime[RunContext]) -> dict:
        return _counselor_speaks(state, runtime, "closing")

    def _counselor_speaks(state: SessionState, runtime: Runtime[RunContext], stage: str) -> dict:
        context = session_context(state)
        turns = state.get("turns", [])
        seed = derive_seed(runtime.context.seed, context.client_id, context.session_index, len(turns), "counselor")
        turn = counselor.respond(context, turns, stage, seed)
        # Ending early is the counselor's choice in a regular turn; the closing turn ends anyway.
        ends = stage != "closing" and turn.ends_session
        # Graph state holds plain data (checkpoints); the record model fixes its keys and their order.
        record = CounselorTurnRecord(speaker="counselor", text=turn.text, stage="closing" if ends else stage,
                                     source=turn.source, retrieved=turn.retrieved, safety=turn.safety or None)
        update = {"turns": [record.to_dict()], "usage": {"counselor": sum_usage_of(turn.completions)}}
        if ends:
            update["ended_by"] = "counselor"
        return update

    def client_turn(state: SessionState, runtime: Runtime[RunContext]) -> dict:
        profile = CaseProfile.model_validate(state["profile"])
        turns = state.get("turns", [])
        index = state["session_index"]
        seed = derive_seed(runtime.context.seed, profile.id, index, len(turns), "client")
        rng = derive_rng(runtime.context.seed, profile.id, index, len(turns), "dynamics")
        reply = client.reply(profile, index, ClientState.from_state(state["client_state"]), turns,
                             state.get("week"), rng, seed, earlier=state.get("transcripts", []))
        record = ClientTurnRecord(
            speaker="client",
            text=reply.text,
            # A person's turn moves no simulated state: nothing to record as theirs.
            state=None if reply.source else {"distress": reply.state.distress, "trust": reply.state.trust},
            appraisal=reply.appraisal.to_record() if reply.appraisal else None,
            disclosed_fact=reply.disclosed_fact,
            risk_disclosed=reply.risk_disclosed,
            **({"source": reply.source} if reply.source else {}),
        )
        runtime.context.progress.turn_done(profile.id)
        update = {"turns": [record.to_dict()], "client_state": reply.state.get_state(),
                  "usage": {"client": sum_usage_of(reply.completions)}}
        if reply.ratings is not None:
            update["turn_ratings"] = _turn_ratings(len(turns) - 1, reply.ratings, person)
        if reply.ends_session:
            update["ended_by"] = "client"
        return update

    def rate_last_turn(state: SessionState) -> dict:
        turns = state.get("turns", [])
        ratings = person.rate_last_turn(CaseProfile.model_validate(state["profile"]), state["session_index"], turns)
        return {"turn_ratings": _turn_ratings(len(turns) - 1, ratings, person)}

    def after_counselor(state: SessionState) -> str:
        return last if state.get("ended_by") == "counselor" else "client_turn"

    def after_client(state: SessionState, runtime: Runtime[RunContext]) -> str:
        if state.get("ended_by") or _client_turns(state.get("turns", [])) >= runtime.context.max_turns:
            return "closing"
        return "counselor_turn"

    graph = StateGraph(SessionState, context_schema=RunContext, input_schema=SessionInput, output_schema=SessionOutput)
    graph.add_node("counselor_turn", counselor_turn)
    graph.add_node("client_turn", client_turn)
    graph.add_node("closing", closing)
    graph.add_edge(START, "counselor_turn")
    graph.add_conditional_edges("counselor_turn", after_counselor, ["client_turn", last])
    graph.add_conditional_edges("client_turn", after_client, ["counselor_turn", "closing"])
    graph.add_edge("closing", last)
    if person is not None:
        graph.add_node("rate_last_turn", rate_last_turn)
        graph.add_edge("rate_last_turn", END)
    return graph


def _turn_ratings(turn: int, ratings: dict[str, int | None], person: PersonClient | None) -> list[dict]:
    """A person's ratings of the counselor turn at index ``turn``, one record per item (None: unrated)."""
    rater = {"rater": person.rater} if person is not None else {}
    return [TurnRatingRecord(turn=turn, item=item, rating=rating, source="human", **rater).to_dict()
            for item, rating in ratings.items()]


def sum_usage_of(completions) -> dict:
    total = sum_usage({"_": usage_of(c)} for c in completions)
    return total.get("_", {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "seconds": 0.0})
