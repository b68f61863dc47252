"""The session graph: counselor turn <-> client turn until the client leaves, turns run out,
or the counselor ends the session. A client played by a person (``PersonClient``) then rates the
session's last counselor turn (``rate_last_turn``), as it rated every one before with its reply."""

from __future__ import annotations

from collections.abc import Iterable

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from muspsy_sim.agents.client.base import Client, PersonClient
from muspsy_sim.agents.counselor.base import Counselor
from muspsy_sim.agents.llm import Completion, usage_of

from ..core.turns import HUMAN, ClientTurn, CounselorTurn, TurnRating, TurnState, client_turn_count, exchange_chunks
from ..core.usage import plain_table
from ..seeding import derive_rng, derive_seed
from .states import RunContext, SessionInput, SessionOutput, SessionState, StateView
from .store_watch import WatchedStore, returned_ids


def usage_update(role: str, completions: Iterable[Completion]) -> dict:
    """A node's usage, as the state's usage table takes it."""
    return plain_table({role: usage_of(completions)})


def build_session_graph(counselor: Counselor, client: Client, store: WatchedStore | None = None) -> StateGraph:
    """A session between ``counselor`` and ``client``; compile it or nest it in a course graph.

    ``store``: the watched memory store the counselor was given; each counselor turn records the ids
    its searches returned (``store_returned``), seen here rather than reported by the counselor, and tells
    the store the exchanges so far (``prepare``), so their embeddings are done while the course waits for
    its models rather than all at the session's end (``bench concurrency``).
    """
    person = client if isinstance(client, PersonClient) else None
    last = "rate_last_turn" if person is not None else END  # a person rates the session's last counselor turn

    def counselor_turn(state: SessionState, runtime: Runtime[RunContext]) -> dict:
        return _counselor_speaks(StateView(state), runtime, "opening" if not state.get("turns") else "middle")

    def closing(state: SessionState, runtime: Runtime[RunContext]) -> dict:
        return _counselor_speaks(StateView(state), runtime, "closing")

    def _counselor_speaks(view: StateView, runtime: Runtime[RunContext], stage: str) -> dict:
        runtime.context.stop.check()  # a stopping campaign (Ctrl+C, a service away) stops here, resumably
        context = view.counselor_context()
        seed = derive_seed(runtime.context.seed, context.client_id, context.session_index, len(view.turns), "counselor")
        if store is None:
            reply, returned = counselor.respond(context, view.turns, stage, seed), None
        else:
            with store.watching() as found:
                reply = counselor.respond(context, view.turns, stage, seed)
            returned = returned_ids(found)
        # Ending early is the counselor's choice in a regular turn; the closing turn ends anyway.
        ends = stage != "closing" and reply.ends_session
        turn = CounselorTurn(text=reply.text, stage="closing" if ends else stage, source=reply.source,
                             retrieved=reply.retrieved, store_returned=returned, safety=reply.safety,
                             prefilled=reply.prefilled)
        update = {"turns": [turn.to_dict()], "usage": usage_update("counselor", reply.completions)}
        if ends:
            update["ended_by"] = "counselor"
        if store is not None:
            store.prepare(exchange_chunks([*view.turns, turn]))
        return update

    def client_turn(state: SessionState, runtime: Runtime[RunContext]) -> dict:
        view = StateView(state)
        profile, index, turns = view.profile, view.session_index, view.turns
        seed = derive_seed(runtime.context.seed, profile.id, index, len(turns), "client")
        rng = derive_rng(runtime.context.seed, profile.id, index, len(turns), "dynamics")
        reply = client.reply(profile, index, view.client_state, turns, view.week, rng, seed, earlier=view.transcripts)
        turn = ClientTurn(
            text=reply.text,
            # A person's turn moves no simulated state: nothing to record as theirs.
            state=None if reply.source else TurnState(distress=reply.state.distress, trust=reply.state.trust),
            appraisal=reply.appraisal,
            disclosed_fact=reply.disclosed_fact,
            risk_disclosed=reply.risk_disclosed,
            source=reply.source,
            added=reply.added,
        )
        runtime.context.progress.turn_done(profile.id)
        update = {"turns": [turn.to_dict()], "client_state": reply.state.get_state(),
                  "usage": usage_update("client", reply.completions)}
        if reply.ratings is not None:
            update["turn_ratings"] = _turn_ratings(len(turns) - 1, reply.ratings, person)
        if reply.ends_session:
            update["ended_by"] = "client"
        return update

    def rate_last_turn(state: SessionState) -> dict:
        view = StateView(state)
        ratings = person.rate_last_turn(view.profile, view.session_index, view.turns)
        return {"turn_ratings": _turn_ratings(len(view.turns) - 1, ratings, person)}

    def after_counselor(state: SessionState) -> str:
        return last if StateView(state).ended_by == "counselor" else "client_turn"

    def after_client(state: SessionState, runtime: Runtime[RunContext]) -> str:
        view = StateView(state)
        if view.ended_by or client_turn_count(view.turns) >= runtime.context.max_turns:
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
    """A person's ratings of the counselor turn at index ``turn``, one per item (None: unrated), as state holds them."""
    rater = person.rater if person is not None else None
    return [TurnRating(turn=turn, item=item, rating=rating, source=HUMAN, rater=rater).to_dict()
            for item, rating in ratings.items()]
