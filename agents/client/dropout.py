"""Whether the client comes back: dropout between sessions, as a course outcome.

About one client in five ends therapy early (Swift & Greenberg 2012, docs/client_state.md), more
often when the alliance is weak, nothing has improved, or they resist the work. After each week
between sessions the engine asks ``decide_return``: the chance of not coming back starts from the
client's own ``dropout_propensity`` (its traits) and rises, on the log-odds scale, early in the
course, with low trust, with no improvement since the course began, and with high resistance. The largest of these is the reason
recorded. A client without traits (the ``legacy`` dynamics) always comes back.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from muspsy_sim.simulation.core.course import Dropout

from .state import ClientState

# A factor weighing less than this (log-odds) is not named as the reason: the client's own circumstances are.
_NAMED_FACTOR = 0.5


@dataclass(frozen=True)
class ReturnDecision:
    comes_back: bool
    probability: float  # of not coming back
    reason: str | None  # why not, in words (None when the client comes back)
    factors: dict[str, float]  # each factor's log-odds weight

    def dropout(self, after_session: int) -> Dropout:
        """The course outcome when the client does not come back after ``after_session``."""
        return Dropout(after_session=after_session, reason=self.reason, probability=self.probability,
                       factors=self.factors)


def _logit(p: float) -> float:
    p = min(1 - 1e-6, max(1e-6, p))
    return math.log(p / (1 - p))


def decide_return(state: ClientState, course_start: ClientState, sessions_attended: int, params,
                  rng: random.Random) -> ReturnDecision:
    """Whether the client comes to its next session, from its state after the week (``params``: DynamicsParams)."""
    traits = state.traits
    if traits is None or traits.dropout_propensity <= 0:
        return ReturnDecision(True, 0.0, None, {})
    factors = {
        # Dropout is most likely early in a course, before the work has taken hold.
        "early in the course": round(params.dropout_early * 0.5 ** (sessions_attended - 1), 4),
        "low alliance": round(params.dropout_per_low_trust * max(0.0, (5.0 - state.trust) / 5.0), 4),
        "no improvement": round(params.dropout_per_no_progress
                                * min(1.0, max(0.0, (state.distress - course_start.distress) / 2.0 + 0.5)), 4),
        "resistance": round(params.dropout_per_resistance * max(0.0, (state.resistance - 0.5) * 2.0), 4),
    }
    probability = 1.0 / (1.0 + math.exp(-(_logit(traits.dropout_propensity) + sum(factors.values()))))
    if rng.random() >= probability:
        return ReturnDecision(True, round(probability, 4), None, factors)
    name, weight = max(factors.items(), key=lambda item: item[1])
    details = {"early in the course": f"after session {sessions_attended}",
               "low alliance": f"trust {state.trust:.1f}/10",
               "no improvement": f"distress {state.distress:.1f}, {course_start.distress:.1f} at the start",
               "resistance": f"resistance {state.resistance:.2f}"}
    reason = (f"{name}: {details[name]}" if weight >= _NAMED_FACTOR
              else f"own circumstances: dropout propensity {traits.dropout_propensity:.2f}")
    return ReturnDecision(False, round(probability, 4), reason, factors)
