"""Reliable change and sudden gains on PHQ-9 and GAD-7, by the published criteria.

**Reliable change** (Jacobson & Truax 1991, J Consult Clin Psychol 59:12-19): a change is reliable
when it exceeds 1.96 standard errors of a difference, ``1.96 * SD * sqrt(2 * (1 - r))``, where ``r``
is the instrument's published reliability and ``SD`` the standard deviation of the sample's
pre-treatment scores (here: the campaign's first measurements). The reliabilities are the
instruments' published internal consistencies (Cronbach's alpha):

* PHQ-9: 0.89 (Kroenke, Spitzer & Williams 2001, J Gen Intern Med 16:606-613; 6,000 primary care
  and obstetrics-gynecology patients);
* GAD-7: 0.92 (Spitzer, Kroenke, Williams & Loewe 2006, Arch Intern Med 166:1092-1097; 2,740 primary
  care patients).

A campaign with fewer than ``MIN_BASELINES`` first measurements, or whose first measurements are all
equal, has no usable sample SD; it falls back on the fixed criteria of NHS Talking Therapies (PHQ-9
6 points, GAD-7 4 points) and says so (``method``).

**Sudden gains** (Tang & DeRubeis 1999, J Consult Clin Psychol 67:894-904): a drop between two
consecutive measurements that is (1) at least the reliable change (Tang & DeRubeis used 7 BDI
points; the PHQ-9 and GAD-7 have no such fixed figure), (2) at least 25% of the score before it, and
(3) large against the scores around it: the mean of up to three measurements before the gain exceeds
the mean of up to three after it by more than the two-sided 5% t criterion (pooled SD; at least two
measurements on each side, the common adaptation when fewer than three are available).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from ..core.realism import RealismThresholds, ReliableChange

MIN_BASELINES = 10
# Two-sided 5% critical t by degrees of freedom (n_before + n_after - 2), for criterion 3.
_T_CRITICAL = {2: 4.303, 3: 3.182, 4: 2.776}


@dataclass(frozen=True)
class Instrument:
    key: str
    label: str
    reliability: float
    reliability_source: str
    fixed_reliable_change: int  # the NHS Talking Therapies criterion, used when the sample has no SD
    fixed_setback: int  # half of it, the setback a fixed criterion implies


INSTRUMENTS = {
    "phq9": Instrument("phq9", "PHQ-9", 0.89, "Cronbach's alpha, Kroenke, Spitzer & Williams 2001", 6, 3),
    "gad7": Instrument("gad7", "GAD-7", 0.92, "Cronbach's alpha, Spitzer, Kroenke, Williams & Loewe 2006", 4, 2),
}


def reliable_change(instrument: str, baselines: Sequence[float]) -> ReliableChange:
    """The reliable change threshold for ``instrument`` given the campaign's first measurements."""
    spec = INSTRUMENTS[instrument]
    sd = statistics.stdev(baselines) if len(baselines) >= 2 else 0.0
    if len(baselines) < MIN_BASELINES or sd <= 0:
        return ReliableChange(
            threshold=spec.fixed_reliable_change, sd=round(sd, 4), n=len(baselines), reliability=spec.reliability,
            reliability_source=spec.reliability_source,
            method=f"fixed criterion of NHS Talking Therapies ({spec.fixed_reliable_change} points): fewer "
                   f"than {MIN_BASELINES} first measurements, or no spread among them")
    threshold = 1.96 * sd * math.sqrt(2 * (1 - spec.reliability))
    return ReliableChange(
        threshold=round(threshold, 4), sd=round(sd, 4), n=len(baselines), reliability=spec.reliability,
        reliability_source=spec.reliability_source,
        method=f"Jacobson & Truax 1991: 1.96 x SD {sd:.2f} (first measurements, n {len(baselines)}) "
               f"x sqrt(2 x (1 - {spec.reliability}))")


def thresholds_of(instrument: str, criterion: ReliableChange) -> RealismThresholds:
    """The reliable change and the setback (half of it) a criterion gives; a fixed criterion as published (whole
    points)."""
    spec = INSTRUMENTS[instrument]
    if criterion.threshold == spec.fixed_reliable_change:
        return RealismThresholds(reliable_change=spec.fixed_reliable_change, setback=spec.fixed_setback)
    return RealismThresholds(reliable_change=criterion.threshold, setback=round(criterion.threshold / 2, 4))


def classify(change: float, threshold: float) -> str:
    return "improving" if change <= -threshold else "worsening" if change >= threshold else "flat"


def _clearly_lower(before: Sequence[float], after: Sequence[float]) -> bool:
    """Criterion 3: the scores after the gain are lower than those before it by more than chance allows."""
    if len(before) < 2 or len(after) < 2:
        return False
    critical = _T_CRITICAL[len(before) + len(after) - 2]
    pooled = ((len(before) - 1) * statistics.variance(before) + (len(after) - 1) * statistics.variance(after)) \
        / (len(before) + len(after) - 2)
    spread = math.sqrt(pooled * (1 / len(before) + 1 / len(after)))
    return statistics.fmean(before) - statistics.fmean(after) > critical * spread


def sudden_gain(values: Sequence[float], threshold: float) -> int | None:
    """The position of the first sudden gain in ``values`` (the measurement before it), or None."""
    for i in range(len(values) - 1):
        gain = values[i] - values[i + 1]
        if gain <= 0 or gain < threshold or gain < 0.25 * values[i]:
            continue
        if _clearly_lower(values[max(0, i - 2): i + 1], values[i + 1: i + 4]):
            return i
    return None
