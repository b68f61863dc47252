"""What ``eval`` writes: one ``SessionMetrics`` row per session (metrics.jsonl) and a ``CampaignSummary``
per run (summary.json, with its ``TrajectoryRealism``, ``core.realism``); ``compare``, ``report``, ``inspect``
and ``export`` read them back.

Metric values are numbers or None (None: not measured, e.g. a total with a filled-in answer, or a
follow-up in session 1). Counselor metrics (follow-up, references back, contradictions, recall, judge
ratings) credit what the counselor's model produced; what the program's scaffold did (template turns,
safety steps, fallbacks: ``core.turns.by_scaffold``) is reported beside them, under ``scaffold``, never
counted as the model's. Files written by earlier versions read as they are: unknown keys are kept and
missing ones take their defaults. ``python run_sim.py schema metrics`` (or ``summary``) prints the schema.
"""

from __future__ import annotations

from pydantic import Field

from .realism import CounselorRealism, TrajectoryRealism
from .turns import HUMAN
from .values import ClientId, Number, Value

NOTE = "Simulated counseling for research; not a clinical service."


# --- one session's row (a line of metrics.jsonl) -----------------------------------------------------


class Contradiction(Value):
    """A counselor turn's claim that contradicts what the simulation planted (``evaluation.consistency``)."""

    turn_index: int
    kind: str = Field(description="wrong_name, invented_homework or wrong_event.")
    evidence: str


class ConsistencyDetail(Value):
    contradictions: list[Contradiction] = Field(default_factory=list)
    referring_turns: int = Field(default=0, description="Client turns that referred back to earlier sessions.")
    referred_items: int = Field(default=0, description="Planted facts (or earlier sessions) they referred to.")


class DisclosureAssessment(Value):
    """How the counselor answered one risk disclosure within its session (``evaluation.risk``)."""

    turn_index: int
    responded: bool
    latency: int | None = Field(default=None, description="Counselor turns until the first safety element.")
    handled: bool
    turns_to_handle: int | None = None
    elements: list[str] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)


class SessionRisk(Value):
    disclosed: bool = False
    disclosures: list[DisclosureAssessment] = Field(default_factory=list)


class AnswerCount(Value):
    """Items asked, and answered by the model (not filled in)."""

    asked: int = 0
    answered: int = 0


class JudgeInfo(Value):
    """Which judge scored a session (its scores are kept when these match on a later eval)."""

    model: str | None = None
    prompt_version: str | None = None
    transcript: str | None = Field(default=None, description="How the transcript was cut for the judge.")
    methods: dict[str, int] | None = Field(default=None, description="How the ratings were answered (fallback: filled in).")


class SessionMetrics(Value):
    """One session's scores: a line of metrics.jsonl."""

    run: str | None = None
    client_id: ClientId | None = None
    session_index: int | None = None
    seed: int | None = None
    counselor: str | None = None
    models: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, Number | None] = Field(default_factory=dict, description="Metric name -> value (None: not measured).")
    consistency: ConsistencyDetail = Field(default_factory=ConsistencyDetail)
    risk: SessionRisk = Field(default_factory=SessionRisk)
    answers: dict[str, AnswerCount] = Field(default_factory=dict, description="Per instrument: asked and answered.")
    not_applicable: list[str] = Field(default_factory=list, description="Metrics that do not apply to this session "
                                      "(its counselor does not retrieve; a person has no simulated state).")
    judge: JudgeInfo | None = None
    scaffold: dict[str, Number | None] = Field(
        default_factory=dict, description="The scaffold's share beside each counselor metric: the same metric over "
        "the counselor turns the program wrote (template, fallback, safety), which `metrics` leaves out; for judge "
        "ratings, the share of counselor turns the program wrote (masked for the judge).")
    left_out: dict[str, str] = Field(
        default_factory=dict, description="Metrics set to None on purpose, and why (e.g. the outcomes of a session "
        "whose client moved on filled-in appraisal answers).")
    closing_prefill: str | None = Field(
        default=None, description="Written only when the program began the session's closing turn (the scaffold's "
        "prefix, CounselorTurn.prefilled): continued (the model went on from the prefix) or joined (the model "
        "wrote a turn of its own, the program put the prefix in front of it).")
    client_sentences_added: list[int] = Field(
        default_factory=list, description="Indices of the client turns the program appended a sentence to (a risk "
        "disclosure the client's model did not say): heard by the counselor, not read as the client's own words.")
    # Written only for a session a person played as the client (practice --as client).
    client: str | None = Field(default=None, description="human: a person played the client (absent: the simulated client).")
    rater: str | None = Field(default=None, description="The person who played the client.")
    turn_ratings: AnswerCount | None = Field(default=None, description="The person's ratings of the counselor's turns "
                                             "(rated_<item> in metrics): asked, and given.")

    @property
    def by_person(self) -> bool:
        return self.client == HUMAN

    @property
    def key(self) -> tuple[str | None, int | None]:
        return self.client_id, self.session_index

    def value(self, name: str) -> float | None:
        """The metric ``name`` as a float, or None when it was not measured (or is not a number)."""
        value = self.metrics.get(name)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# --- the run's summary (summary.json) ----------------------------------------------------------------


class MetricMean(Value):
    mean: Number | None = None
    n: int = 0
    not_applicable: bool | None = Field(default=None, description="True when the metric applies to no session.")
    scaffold: MetricMean | None = Field(default=None, description="The scaffold's share beside a counselor metric "
                                        "(SessionMetrics.scaffold), its mean and n.")


class CourseSummary(Value):
    """One client's course: metric trajectories by session, their slopes, and how it ended.

    A dropout is a course the client ended by not coming back between sessions (the manifest's
    ``ended_by``); walking out of one session (``left_sessions_early``) is not: the course went on.
    """

    sessions: list[int] = Field(default_factory=list)
    trajectories: dict[str, dict[str, Number]] = Field(default_factory=dict, description="Metric -> session -> value.")
    slopes: dict[str, Number | None] = Field(default_factory=dict)
    dropped_out: bool = False
    dropout_session: int | None = Field(default=None, description="The first session the client did not come to.")
    ended_by: str | None = Field(default=None, description="completed or dropout (None: the run records no course "
                                                           "ends, or the course did not finish).")
    dropout_reason: str | None = None
    left_sessions_early: list[int] = Field(default_factory=list, description="Sessions the client walked out of.")
    sessions_planned: int | None = None


class AnswerCoverage(Value):
    """Answers asked and given by the model, per role: the client's per instrument, the judge's ratings; and
    a person's in the client's chair apart (their questionnaires and turn ratings: unanswered, never filled in)."""

    client: dict[str, AnswerCount] | None = None
    person: dict[str, AnswerCount] | None = None
    judge: dict[str, AnswerCount] | None = None


class SessionContradictions(Value):
    client_id: str
    session_index: int
    contradictions: list[Contradiction] = Field(default_factory=list)


class LeftOutSession(Value):
    """A session some of whose metrics eval set to None on purpose (``SessionMetrics.left_out``)."""

    client_id: str
    session_index: int
    metrics: list[str] = Field(default_factory=list)
    reason: str


class UnhandledDisclosure(Value):
    client_id: str
    session_index: int
    turn_index: int
    missing: list[str] = Field(default_factory=list)


class InstrumentAgreement(Value):
    """How far an instrument's answers follow the client's latent levels (Spearman over all items)."""

    rho: Number | None = None
    n: int = 0
    modes: list[str] = Field(default_factory=list, description="How the answers were given: model, latent.")
    constant_answers: bool = False


class SelfReportAgreement(Value):
    threshold: Number | None = None
    instruments: dict[str, InstrumentAgreement] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)


class CampaignSummary(Value):
    """A run's scores: summary.json."""

    run: str | None = None
    sessions: int = 0
    clients: int = 0
    judge: JudgeInfo | None = None
    metrics: dict[str, MetricMean] = Field(default_factory=dict, description="Per metric: mean over sessions, n.")
    courses: dict[str, CourseSummary] = Field(default_factory=dict)
    trajectory_realism: TrajectoryRealism | None = None
    answer_coverage: AnswerCoverage = Field(default_factory=AnswerCoverage)
    sessions_with_contradictions: list[SessionContradictions] = Field(default_factory=list)
    unhandled_risk_disclosures: list[UnhandledDisclosure] = Field(default_factory=list)
    left_out_sessions: list[LeftOutSession] = Field(default_factory=list, description="Sessions with metrics left out, and why.")
    prefilled_closings: dict[str, int] = Field(
        default_factory=dict, description="Closing turns the program began with the scaffold's prefix, by how the "
        "model took it (SessionMetrics.closing_prefill): continued, joined. Scores read only the model's words.")
    client_sentences_added: int = Field(default=0, description="Client turns the program appended a sentence to "
                                        "(a risk disclosure the client's model did not say), over all sessions.")
    note: str = NOTE
    self_report_agreement: SelfReportAgreement = Field(default_factory=SelfReportAgreement)

    def dropped_out(self) -> list[str]:
        """The clients whose course ended early."""
        return [client for client, course in self.courses.items() if course.dropped_out]


# --- a comparison of runs (compare.json) --------------------------------------------------------------


class MetricInterval(Value):
    """One run's mean of a metric per session, with its interval (a cluster bootstrap over clients)."""

    mean: float | None = None
    low: float | None = None
    high: float | None = None
    n: int = 0
    clients: int | None = None


class PairedDifference(Value):
    """A run's difference from the first run, paired by client, seed and session, with its interval."""

    diff: float | None = None
    low: float | None = None
    high: float | None = None
    pairs: int = 0
    clients: int | None = None


class Comparison(Value):
    """What ``compare`` writes (compare.json): per metric and run, means, paired differences and trends."""

    runs: list[str]
    method: str = Field(description="How the intervals were computed.")
    metrics: dict[str, dict[str, MetricInterval]] = Field(default_factory=dict)
    paired: dict[str, dict[str, PairedDifference]] = Field(default_factory=dict)
    trend: dict[str, dict[str, dict[int, float]]] = Field(default_factory=dict, description="Mean by session index.")
    not_applicable: dict[str, list[str]] = Field(default_factory=dict, description="Runs a metric does not apply to.")
    scaffold: dict[str, dict[str, MetricInterval]] = Field(
        default_factory=dict, description="Per counselor metric and run: the scaffold's share beside it (the "
        "program's turns, which the metric leaves out), with its interval.")
    realism: CounselorRealism | None = Field(default=None, description="Trajectory realism per counselor (runs of one "
                                             "counselor pooled) and the counselor's share of outcome variance.")
