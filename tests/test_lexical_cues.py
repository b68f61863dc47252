"""The rules appraisal stops rewarding words that say the opposite (issue 23, point 4): the issue's turns, exactly."""

from __future__ import annotations

import random

import pytest

from muspsy_sim.agents.client import AppraisalContext, ClientState, RulesAppraiser, SimulatedClient, appraise
from muspsy_sim.agents.client.dynamics import DynamicsParams
from muspsy_sim.agents.client.lexical_cues import contextual_cues, empathic_phrases
from muspsy_sim.agents.llm import ModelSpec, Sampling
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, Turn
from tests.conftest import LIBRARY

# The three counselor turns of the issue, word for word.
NEGATED = "I don't understand why you feel that way; it doesn't sound like a real problem."
WARM_WITHOUT_CUES = "That must have been so painful. Tell me more about what that night was like for you."
REFLECTION = ("You never gave yourself a break after the move, and you always carried everyone else. "
              "What would rest look like?")
# What the client said before the reflection: the counselor's "never" and "always" are the client's own account.
CLIENT_BEFORE_REFLECTION = "Since the move I have not had a single break. I always end up carrying everyone else."
PROFILE = load_profile(LIBRARY / "gad-priya-38.yaml")


def _client(text: str) -> ClientTurn:
    return ClientTurn(text=text)


def _counselor(text: str) -> CounselorTurn:
    return CounselorTurn(text=text)


def test_negated_cues_are_no_empathy_but_a_dismissal():
    cues = appraise(NEGATED, "My sister keeps cancelling on me.")
    assert cues.empathy == 0.0 and cues.push == 1.0
    assert empathic_phrases(NEGATED) == []
    # The cues before issue 23 counted "understand" and "you feel": full empathy, no push.
    legacy = appraise(NEGATED, "My sister keeps cancelling on me.", legacy=True)
    assert (legacy.empathy, legacy.push) == (1.0, 0.0)


def test_a_warm_validating_turn_without_the_old_phrases_is_empathic():
    cues = appraise(WARM_WITHOUT_CUES, "That night I sat in the car for an hour and could not go in.")
    assert cues.empathy == 1.0 and cues.push == 0.0
    assert appraise(WARM_WITHOUT_CUES, "", legacy=True).empathy == 0.0


def test_never_and_always_in_a_reflection_of_the_clients_words_do_not_push():
    cues = appraise(REFLECTION, CLIENT_BEFORE_REFLECTION, session_turns=[_client(CLIENT_BEFORE_REFLECTION)])
    assert cues.push == 0.0
    assert appraise(REFLECTION, CLIENT_BEFORE_REFLECTION, legacy=True).push == 1.0
    # The same words said to a client who said nothing of the kind are no reflection: they push, as before.
    unrelated = "Work has been busy and my manager wants the report by Friday."
    assert appraise(REFLECTION, unrelated, session_turns=[_client(unrelated)]).push == 1.0


def test_a_stock_phrase_repeated_turn_after_turn_earns_less_each_time():
    stock = "It sounds like that is a lot. That makes sense."
    session: list[Turn] = []
    earned = []
    for said in ("Work is piling up.", "My mother is ill again.", "I cannot sleep."):
        session.append(_client(said))
        earned.append(contextual_cues(stock, session)[0])
        session.append(_counselor(stock))
    assert earned == [1.0, 0.5, 0.25]
    assert earned[2] < earned[0]
    # A fresh phrase still earns in full.
    assert contextual_cues("I can imagine how tiring that is.", session)[0] == 0.5


@pytest.mark.parametrize(("text", "empathy", "push"), [
    ("No wonder you feel worn out.", 1.0, 0.0),           # "no" inside an empathic phrase negates nothing
    ("I'm not saying you should quit.", 0.0, 0.0),        # a negated directive does not push
    ("You must not dwell on it, just relax.", 0.0, 1.0),  # a prohibition still directs
    ("That is hard. It seems you feel alone, but I don't understand your plan.", 1.0, 0.5),
])
def test_negation_scope_stays_in_its_clause(text, empathy, push):
    assert contextual_cues(text) == (empathy, push)


@pytest.mark.parametrize(("typographic", "plain"), [
    ("I don\u2019t understand why you feel that way.", "I don't understand why you feel that way."),
    ("I\u2019m sorry, that sounds like a lot.", "I'm sorry, that sounds like a lot."),
    ("I\u2019m not saying you should quit.", "I'm not saying you should quit."),
])
def test_typographic_apostrophes_read_as_plain_ones(typographic, plain):
    assert contextual_cues(typographic) == contextual_cues(plain)
    assert empathic_phrases(typographic) == empathic_phrases(plain)


def test_a_curly_negation_is_a_dismissal_and_a_curly_apology_is_empathy():
    assert contextual_cues("I don\u2019t understand why you feel that way.") == (0.0, 1.0)
    assert "i'm sorry" in empathic_phrases("I\u2019m sorry.")


@pytest.mark.parametrize("text", ["It is no surprise you feel exhausted.", "It's not surprising you feel exhausted.",
                                  "No doubt you feel exhausted."])
def test_a_negator_that_grants_what_follows_negates_nothing(text):
    assert contextual_cues(text) == (0.5, 0.0)


def test_the_rules_appraiser_reads_the_session_and_the_client_state_follows():
    """Through the client itself: the negated turn costs trust now; under the legacy preset it earned trust."""
    turns = [_client("My sister keeps cancelling on me."), _counselor(NEGATED)]
    context = AppraisalContext(PROFILE, 1, ClientState.initial(PROFILE), turns)
    appraisal, calls = RulesAppraiser().appraise(context)
    assert (appraisal.empathy, appraisal.push, calls) == (0.0, 1.0, [])
    model = LiteLLMModel(ModelSpec.parse("testdouble/scripted"))
    state = ClientState.initial(PROFILE)
    now = SimulatedClient(model, Sampling(), DynamicsParams(turn_noise=0.0)).reply(
        PROFILE, 1, state, turns, None, random.Random(0), seed=1)
    before = SimulatedClient(model, Sampling(), DynamicsParams.from_overrides({"preset": "legacy"})).reply(
        PROFILE, 1, state, turns, None, random.Random(0), seed=1)
    assert now.state.trust < state.trust < before.state.trust
