"""What the engine needs of a simulated client: the ``Client`` interface and the reply it gives.

``agents.client.simulated_client.SimulatedClient`` implements it. A client is
stateless: its state (``ClientState``) lives in the graph, so it can be checkpointed,
and each call gets the state and returns the next one.
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


@runtime_checkable
class Client(Protocol):
    """A simulated client: speaks in sessions, answers questionnaires, lives its weeks by ``params``.

    ``appraiser`` takes each counselor turn (rules or the client's model); ``self_report`` is
    how it answers questionnaires ("model" or "latent", ``agents.client.questionnaires``).
    """

    params: DynamicsParams
    appraiser: Appraiser
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
