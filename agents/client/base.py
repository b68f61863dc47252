"""What the engine needs of a client: the ``Client`` interface and the reply it gives.

``agents.client.simulated_client.SimulatedClient`` implements it. A client is
stateless: its state (``ClientState``) lives in the graph, so it can be checkpointed,
and each call gets the state and returns the next one.

A person can sit in the client's chair (``simulation/engine/human_client.py``): such a client is
also a ``PersonClient``, which rates every counselor turn itself, the session's last one included.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.core.course import Week
from muspsy_sim.simulation.core.questionnaires import QuestionnaireResult
from muspsy_sim.simulation.core.turns import Appraisal, Turn

from ..llm import Completion
from .appraisal import Appraiser
from .dynamics import DynamicsParams
from .state import ClientState


@dataclass(frozen=True)
class ClientReply:
    text: str
    state: ClientState
    appraisal: Appraisal | None
    disclosed_fact: int | None
    ends_session: bool
    completions: list[Completion] = field(default_factory=list)
    risk_disclosed: bool = False  # ground truth: this turn discloses the profile's risk (agents.client.risk_disclosure)
    # The sentence the program appended to the model's words (a risk disclosure they lacked), if any.
    added: str | None = None
    # A person's reply only: who wrote it ("human") and their ratings of the counselor turn before it,
    # by appraisal item (1..5, None: left unrated).
    source: str | None = None
    ratings: dict[str, int | None] | None = None


@runtime_checkable
class Client(Protocol):
    """A simulated client: speaks in sessions, answers questionnaires, lives its weeks by ``params``.

    ``appraiser`` takes each counselor turn (rules or the client's model; None when a person rates);
    ``self_report`` is how it answers questionnaires ("model" or "latent",
    ``agents.client.questionnaires``; "human" for a person).
    """

    params: DynamicsParams
    appraiser: Appraiser | None
    self_report: str

    def reply(self, profile: CaseProfile, session_index: int, state: ClientState, turns: Sequence[Turn],
              week: Week | None, rng: random.Random, seed: int,
              earlier: Sequence[Sequence[Turn]] = ()) -> ClientReply:
        """The client's next turn after ``turns`` (``earlier``: the transcripts of earlier sessions)."""
        ...

    def answer_questionnaires(self, profile: CaseProfile, session_index: int, state: ClientState,
                              keys: tuple[str, ...], seed: int, turns: Sequence[Turn] = (),
                              week: Week | None = None) -> tuple[dict[str, QuestionnaireResult], list[Completion]]:
        """The client's answers to the named instruments, with the model calls they took.

        ``turns`` (the session so far) and ``week`` (the week before it) are what happened.
        """
        ...


@runtime_checkable
class PersonClient(Protocol):
    """A client played by a person: its ratings of the counselor's turns are data, recorded as given.

    Besides the reply after each counselor turn (which carries the ratings of that turn), the person
    rates the session's last counselor turn, after which the client does not speak.
    """

    rater: str

    def rate_last_turn(self, profile: CaseProfile, session_index: int, turns: Sequence[Turn]) -> dict[str, int | None]:
        """The person's ratings of ``turns[-1]`` (a counselor turn), by appraisal item; None: left unrated."""
        ...
