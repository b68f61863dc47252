"""Published base rates that a campaign's courses are set beside (the realism table of `eval` and `compare`).

Each reference has the range a realistic population of courses should land in and the published
figures behind it, with their sources. The ranges are wider than the figures: published rates
vary with setting, instrument and dose, and a campaign of a few dozen courses has sampling error.
docs/client_state.md ("Trajectory realism") gives the full citations.
"""

from __future__ import annotations

from ..core.realism import ReferenceRange


def _reference(key: str, label: str, low: float, high: float, published: str, source: str) -> ReferenceRange:
    """A reference range (positional, as the table below reads best)."""
    return ReferenceRange(key=key, label=label, low=low, high=high, published=published, source=source)


IMPROVED = _reference(
    "improving", "reliably improved", 0.40, 0.60,
    "about 50% measurably improved by session 8; 55% reliably improved on PHQ-9, 55% on GAD-7 in routine care "
    "(mean 5.5 sessions); 57.6-67.2% in trials (mean 12.7 sessions), about 20% in naturalistic care with fewer "
    "than 5 sessions",
    "Howard, Kopta, Krause & Orlinsky 1986; Richards & Borglin 2011; Hansen, Lambert & Forman 2002")
DETERIORATED = _reference(
    "worsening", "reliably deteriorated", 0.03, 0.12,
    "5-10% of adult clients end treatment worse",
    "Lambert & Ogles 2004; Lambert 2013")
DROPOUT = _reference(
    "dropout", "dropped out", 0.10, 0.30,
    "19.7% [95% CI 18.7-20.7] across 669 studies, 83,834 clients; about 1 in 5",
    "Swift & Greenberg 2012")
SUDDEN_GAIN = _reference(
    "with_sudden_gain", "with a sudden gain", 0.15, 0.45,
    "about 40% of courses (55% of those who improved) in CBT for depression; 33.5% in IPT for depression; "
    "17.3% in group CBT for anxiety",
    "Tang & DeRubeis 1999; Kelly, Cyranowski & Frank 2007; Norton, Klenck & Barrera 2010")
SUDDEN_GAIN_AMONG_IMPROVED = _reference(
    "sudden_gain_among_improving", "improvers with a sudden gain", 0.15, 1.0,
    "about 55% of the patients who improved in CBT for depression",
    "Tang & DeRubeis 1999")
COUNSELOR_SHARE = _reference(
    "counselor_share", "outcome variance due to the counselor", 0.02, 0.20,
    "about 5% (therapist effects, multilevel models); weighted average 5%, range 0.2-29%, in 20 later studies",
    "Baldwin & Imel 2013; Wampold & Brown 2005; Johns, Barkham, Kellett & Saxon 2019")

PER_INSTRUMENT = (IMPROVED, DETERIORATED, SUDDEN_GAIN, SUDDEN_GAIN_AMONG_IMPROVED)
