"""Trajectory realism: how a campaign's courses moved, each figure beside the published base rate it stands
for (``evaluation.trajectories``, ``evaluation.counselor_effects``). ``eval`` writes a ``TrajectoryRealism``
into summary.json; ``compare`` a ``CounselorRealism`` (per counselor, and the counselor's share of outcome
variance) into compare.json.

Summaries written before the realism references existed read as they are: their instruments lack the
reliable change's derivation, sudden gains and the references, which stay unset (and unwritten).
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from .values import Number, Value


class ReferenceRange(Value):
    """A published base rate: the range a realistic population of courses lands in, the figures behind it
    and their sources (the ranges are wider than the figures: rates vary with setting, instrument and dose,
    and a campaign of a few dozen courses has sampling error)."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(description="The figure it is compared with: a key of an instrument's realism, dropout or "
                                 "counselor_share.")
    label: str
    low: Number
    high: Number
    published: str = Field(description="The published figures, in words.")
    source: str

    def holds(self, value: float | None) -> bool | None:
        """Whether ``value`` is in the range (None: nothing measured)."""
        return None if value is None else self.low <= value <= self.high

    def range_text(self) -> str:
        return f"at least {100 * self.low:.0f}%" if self.high >= 1 else f"{100 * self.low:.0f}-{100 * self.high:.0f}%"


class ReferenceLine(ReferenceRange):
    """One reference beside the campaign's figure on one instrument (None: dropout, a course outcome)."""

    instrument: str | None = None
    value: Number | None = None
    in_range: bool | None = None


class ReliableChange(Value):
    """The reliable change an instrument's courses were classified by (``evaluation.reliable_change``)."""

    threshold: Number = Field(description="Points of change that count as reliable.")
    sd: Number | None = Field(default=None, description="SD of the campaign's first measurements.")
    n: int = Field(default=0, description="First measurements the SD was taken over.")
    reliability: Number | None = None
    reliability_source: str | None = None
    method: str = Field(default="", description="How the threshold was set, in words.")


class ClientTrajectory(Value):
    """One course on one instrument: its change from first to last measurement (a dropout's last carried forward)."""

    change: Number
    per_session: Number | None = Field(description="Change per step between measurements (None: one measurement).")
    class_: str = Field(alias="class", description="improving, flat or worsening.")
    setback: bool
    sudden_gain: bool | None = Field(default=None, description="A drop meeting Tang & DeRubeis's three criteria.")
    measurements: int | None = None
    ended_by: str | None = Field(default=None, description="completed or dropout (the manifest; None: not recorded).")


class InstrumentRealism(Value):
    """How a campaign's courses moved on one instrument (``evaluation.trajectories``); shares are of all courses
    that began (intention to treat)."""

    courses: int = 0
    improving: Number | None = None
    flat: Number | None = None
    worsening: Number | None = None
    with_setback: Number | None = None
    with_sudden_gain: Number | None = None
    sudden_gain_among_improving: Number | None = None
    mean_change: Number | None = None
    mean_change_per_session: Number | None = None
    sd_change: Number | None = None
    sd_session_change: Number | None = Field(default=None, description="SD of all session-to-session changes.")
    min_change: Number | None = None
    max_change: Number | None = None
    reliable_change: ReliableChange | None = None
    setback_threshold: Number | None = None
    skipped: int | None = Field(default=None, description="Measurements without a usable total, skipped: a filled-in "
                                "answer, or an outcome eval left out (SessionMetrics.left_out).")
    unmeasured: list[str] = Field(default_factory=list, description="Courses with no usable measurement at all: not "
                                  "among `courses`, counted here.")
    by_client: dict[str, ClientTrajectory] = Field(default_factory=dict)


class RealismThresholds(Value):
    reliable_change: Number
    setback: Number


class DropoutShare(Value):
    """How many courses the client ended by not coming back (the manifest's ``ended_by``), and when."""

    courses: int = 0
    recorded: int = Field(default=0, description="Courses whose end the run records (runs before dropout record none).")
    dropped_out: int = 0
    share: Number | None = Field(default=None, description="Of all courses (None: the run records no course ends).")
    after_session: dict[str, int] = Field(default_factory=dict, description="Last session attended -> dropouts.")
    median_after_session: Number | None = None
    reasons: dict[str, int] = Field(default_factory=dict, description="The factor named as the reason -> dropouts.")


class TrajectoryRealism(Value):
    """A campaign's (or one counselor's) courses on PHQ-9 and GAD-7, dropout, and the references beside them."""

    phq9: InstrumentRealism | None = None
    gad7: InstrumentRealism | None = None
    thresholds: dict[str, RealismThresholds] = Field(default_factory=dict)
    dropout: DropoutShare | None = None
    excluded_failed: list[str] = Field(default_factory=list, description="Courses left out: failed for a technical "
                                                                         "reason, interrupted (a service away, a full disk) "
                                                                         "until `resume` finishes them, or not finished "
                                                                         "(pending, running): no client outcome.")
    references: list[ReferenceLine] = Field(default_factory=list)

    def instrument(self, name: str) -> InstrumentRealism:
        """The realism on instrument ``name`` (phq9 or gad7; empty when not measured)."""
        return getattr(self, name, None) or InstrumentRealism()


class VarianceShare(Value):
    """The counselor's share of outcome variance on one instrument (``evaluation.counselor_effects``)."""

    icc: Number = Field(description="ICC(1), one-way random-effects ANOVA of each course's change by counselor.")
    eta_squared: Number
    counselors: int
    courses: int
    means: dict[str, Number] = Field(default_factory=dict, description="Mean change per counselor.")
    in_range: bool | None = None
    reference: ReferenceRange


class CounselorGroup(Value):
    runs: list[str] = Field(default_factory=list)
    realism: TrajectoryRealism


class CounselorRealism(Value):
    """Runs grouped by counselor (seeds pooled), each group's realism, and the counselor's share of variance."""

    counselors: dict[str, CounselorGroup] = Field(default_factory=dict)
    counselor_share: dict[str, VarianceShare | None] = Field(default_factory=dict)
