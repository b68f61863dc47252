"""The simulated client: disclosure gated by trust, resistance in its words, seeded dynamics."""

import random

from muspsy_sim.agents.client import (
    ClientState,
    DynamicsParams,
    SimulatedClient,
    appraise,
    between_sessions,
)
from muspsy_sim.agents.client.dynamics import after_counselor_turn
from muspsy_sim.agents.llm import Sampling
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.simulation.core.turns import CounselorTurn
from tests.conftest import LIBRARY
from tests.fakes import RecordingModel

PROFILE = load_profile(LIBRARY / "gad-priya-38.yaml")
LOWEST = min(f.trust_threshold for f in PROFILE.private_facts)


def _reply(state, turns=()):
    client = SimulatedClient(RecordingModel(), Sampling())
    return client.reply(PROFILE, 1, state, list(turns), None, random.Random(0), seed=1)


def test_private_facts_stay_private_below_their_trust_threshold():
    low = ClientState.initial(PROFILE).model_copy(update={"trust": LOWEST - 0.5})
    reply = _reply(low)
    assert reply.disclosed_fact is None
    assert all(f.text not in reply.text for f in PROFILE.private_facts)

    high = low.model_copy(update={"trust": LOWEST + 0.1})
    reply = _reply(high)
    fact = PROFILE.private_facts[reply.disclosed_fact]
    assert fact.trust_threshold <= high.trust and fact.text in reply.text
    assert reply.state.disclosed == [reply.disclosed_fact]


def test_resistant_client_pushes_back():
    state = ClientState.initial(PROFILE).model_copy(update={"resistance": 0.8, "trust": 5})
    reply = _reply(state, [CounselorTurn(text="You should just stop worrying.")])
    assert reply.text.startswith("Yes, but")


def test_empathic_relevant_turns_build_trust_and_pushing_erodes_it():
    state = ClientState.initial(PROFILE)
    params = DynamicsParams(turn_noise=0.0)
    warm = appraise("It sounds like the deadlines at work feel overwhelming; that makes sense.",
                    "The deadlines at work are overwhelming me.")
    pushy = appraise("You should just stop it. You must always plan.", "The deadlines at work are overwhelming me.")
    assert after_counselor_turn(state, warm, params, random.Random(0)).trust > state.trust
    assert after_counselor_turn(state, pushy, params, random.Random(0)).trust < state.trust


def test_client_leaves_when_trust_collapses():
    state = ClientState.initial(PROFILE).model_copy(update={"trust": 0.2})
    assert _reply(state).ends_session


def test_between_sessions_is_seeded():
    state = ClientState.initial(PROFILE)
    first = between_sessions(state, ["a bad week"], True, DynamicsParams(), random.Random(5))
    again = between_sessions(state, ["a bad week"], True, DynamicsParams(), random.Random(5))
    assert first == again
    assert first[1].life_events == ["a bad week"] and isinstance(first[1].homework_done, bool)
    # The seed matters: other seeds give other weeks (a function that ignored its rng would pass the lines above).
    others = {between_sessions(state, ["a bad week"], True, DynamicsParams(), random.Random(seed))[0].distress
              for seed in range(6, 12)}
    assert len(others | {first[0].distress}) >= 5
