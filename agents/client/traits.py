"""A client's traits: what makes one client's course unlike another's, drawn once per client and seed.

Real clients differ in how much a good session helps them (some barely respond), how much their
weeks swing, whether they improve in a sudden jump, whether they come back, and how hard life
events hit them. Each simulated client gets these as ``ClientTraits`` (a kernel value,
``simulation.core.course``), drawn by ``draw_traits``
from the distributions in ``DynamicsParams`` (``trait_*``) with one seeded generator per trait,
so the same campaign seed gives the same client the same traits whatever order courses run
in, and pinning one trait in the profile (``traits:``) leaves the others' draws unchanged.
docs/client_state.md ("Traits") writes the distributions out.

The ``legacy`` dynamics preset draws no traits: a client without traits (``None``) behaves as the
neutral ``ClientTraits()`` does, which is how every client behaved before traits existed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from muspsy_sim.scenarios.profile import TraitPins
from muspsy_sim.simulation.core.course import TRAIT_BOUNDS, ClientTraits

# Below this responsiveness a client counts as a non-responder (the share the draw makes one).
NON_RESPONDER_BELOW = 0.25
NEUTRAL = ClientTraits()


def _lognormal(rng: random.Random, median: float, sd: float, trait: str, low: float | None = None) -> float:
    """``median`` times exp(N(0, sd)), kept within the trait's range (from ``low`` when given)."""
    floor, high = TRAIT_BOUNDS[trait]
    low = floor if low is None else low
    return round(min(float(high), max(float(low), median * math.exp(rng.gauss(0.0, sd)))), 4)


def draw_traits(params, rng_for: Callable[[str], random.Random], pins: TraitPins | None = None) -> ClientTraits:
    """Draw a client's traits from ``params`` (``DynamicsParams``' ``trait_*`` fields).

    ``rng_for(name)`` gives the generator of one trait (the engine seeds it by campaign seed,
    client and trait name); ``pins`` (the profile's ``traits``) override single traits.
    """
    responsiveness_rng = rng_for("responsiveness")
    if responsiveness_rng.random() < params.trait_nonresponder_share:
        # A non-responder: good sessions do next to nothing for this client.
        responsiveness = round(responsiveness_rng.uniform(0.0, NON_RESPONDER_BELOW), 4)
    else:
        responsiveness = _lognormal(responsiveness_rng, 1.0, params.trait_responsiveness_sd, "responsiveness",
                                    low=NON_RESPONDER_BELOW)
    drawn = {
        "responsiveness": responsiveness,
        "volatility": _lognormal(rng_for("volatility"), 1.0, params.trait_volatility_sd, "volatility"),
        "sudden_gain_propensity": _lognormal(rng_for("sudden_gain_propensity"), params.trait_sudden_gain_rate,
                                             params.trait_sudden_gain_sd, "sudden_gain_propensity"),
        "dropout_propensity": _lognormal(rng_for("dropout_propensity"), params.trait_dropout_rate,
                                         params.trait_dropout_sd, "dropout_propensity"),
        "event_sensitivity": _lognormal(rng_for("event_sensitivity"), 1.0, params.trait_event_sensitivity_sd,
                                        "event_sensitivity"),
    }
    pinned = pins.pinned() if pins is not None else {}
    return ClientTraits(**{**drawn, **pinned}, pinned=sorted(pinned))
