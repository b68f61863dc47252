"""The client's state and situation in words, for prompts that must not carry numbers.

Questionnaire items and appraisal items are put to the client's own model with how it feels
in words, never with a numeric level: the model answers as the person, and the record keeps
the latent level beside its answer (``agents.client.questionnaires``). Each quantity is named
by one of five bands, lowest first (``BANDS``).
"""

from __future__ import annotations

from collections.abc import Sequence

from muspsy_sim.simulation.core.course import Week
from muspsy_sim.simulation.core.turns import ClientTurn, Turn

from .state import ClientState

BANDS = ("very low", "low", "moderate", "high", "very high")
_TURNS_SHOWN = 6
_TURN_CHARS = 240


def band(level: float) -> str:
    """The band word of a level in 0..1."""
    return BANDS[min(len(BANDS) - 1, max(0, int(level * len(BANDS))))]


def feelings_in_words(state: ClientState) -> str:
    """How the client feels overall: distress, trust in the counselor and mood, each as a band."""
    return (f"your distress is {band(state.distress / 10)}, your trust in the counselor is {band(state.trust / 10)}, "
            f"and your mood (interest and energy) is {band(state.positive_affect)}.")


def dialogue_in_words(turns: Sequence[Turn]) -> str:
    """The last few turns, the client's own as "You", each cut to a few sentences."""
    lines = []
    for turn in turns[-_TURNS_SHOWN:]:
        text = " ".join(turn.text.split())
        text = text if len(text) <= _TURN_CHARS else text[:_TURN_CHARS - 3] + "..."
        lines.append(f"{'You' if isinstance(turn, ClientTurn) else 'Counselor'}: {text}")
    return "\n".join(lines)


def situation_in_words(turns: Sequence[Turn], week: Week | None, session_index: int) -> str:
    """What happened: the session's last turns when there are any, else the week before it."""
    if turns:
        return "What was said in the session (last turns):\n" + dialogue_in_words(turns)
    if session_index <= 1 or not week:
        return "This is the start of your first counseling session."
    happened = [*week.life_events, *(f"you {event}" for event in week.random_events)]
    if week.homework_done is not None:
        happened.append("you did the homework" if week.homework_done else "you did not do the homework")
    return "Since the last session: " + ("; ".join(happened) if happened else "nothing special happened") + "."
