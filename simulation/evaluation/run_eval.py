"""`run_sim.py eval RUN_DIR`: score every session of a run, without re-simulating.

Writes ``metrics.jsonl`` (one row per session) and ``summary.json`` (per run) into the
run directory. Judge scores already present for the same judge model and prompt
version are kept, so re-running only scores what is new.

Counselor metrics credit the counselor's model: consistency and recall are computed over the
turns it wrote (``consistency``, ``retrieval``), and the judge reads the transcript with the
turns the program wrote (template, safety, fallback: ``core.turns.by_scaffold``) masked, marked
as not the counselor's, and the words the program began a model's turn with (``CounselorTurn.prefilled``,
the scaffold's closing prefix) marked in place of them. What the scaffold did goes beside them, in the
row's ``scaffold``; the row's ``scaffold_turn_share`` says how much of what the client heard the program
wrote, its ``closing_prefill`` how the model took the prefix (the summary counts them).

A session a person played as the client (``client: human``) is scored on their own answers and
ratings: the state metrics (distress, trust) are not applicable (a person has no simulated state),
``rated_<item>`` is the mean of their ratings of the counselor's turns, and an item they left
unanswered is neither a fallback nor a score: its total is None and coverage counts it as asked,
not answered (under "person", apart from the model's answers).
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

from muspsy_sim.agents.counselor import UnknownCounselor, resolve_counselor_class
from muspsy_sim.agents.judge import Judge
from muspsy_sim.agents.llm import FALLBACK_METHOD, ModelSpec, ModelUnavailable
from muspsy_sim.agents.llm.routing import servable

from ..config import CampaignConfig
from ..core.errors import InputError
from ..core.metrics import (
    NOTE,
    AnswerCount,
    AnswerCoverage,
    CampaignSummary,
    JudgeInfo,
    LeftOutSession,
    MetricMean,
    SelfReportAgreement,
    SessionContradictions,
    SessionMetrics,
    UnhandledDisclosure,
)
from ..core.turns import CounselorTurn, Turn, by_scaffold
from ..engine.components import role_model
from ..record.run_directory import write_metric_rows, write_summary
from ..record.run_log import RunLog
from ..record.schema import SESSIONS, CourseEntry, SessionRecord
from ..record.tallies import added_sentences
from ..seeding import derive_seed
from .consistency import SessionConsistency, consistency_metrics
from .course import course_summary
from .risk import authored_risk, risk_metrics, session_risk
from .self_report import (
    STATE_METRICS,
    agreement_warnings,
    answer_coverage,
    appraisal_left_out,
    person_metrics,
    self_report_agreement,
    self_report_metrics,
)
from .trajectories import trajectory_realism


def build_judge(config: CampaignConfig, judge_model: str | None, prompt_version: str) -> Judge:
    settings = config.models.judge
    try:
        model = servable(ModelSpec.parse(judge_model) if judge_model else settings.model)
    except ValueError as error:
        raise InputError("--judge-model", "", str(error)) from None
    if model != settings.model:
        # Another judge model: the run's retry, timeout and fallback settings still apply.
        settings = settings.model_copy(update={"model": model, "api_base": None})
    try:
        return Judge(role_model(settings), prompt_version)
    except ValueError as error:
        raise InputError("--judge-version", "", str(error)) from None


def counselor_retrieves(config: CampaignConfig) -> bool:
    """Whether the run's counselor searches the memory store (else retrieval recall is not applicable).

    Declared by the counselor class (``retrieves``); a class that does not say is taken to retrieve,
    so a plugged-in counselor is measured rather than excused.
    """
    if config.memory.top_k <= 0:
        return False
    try:
        return bool(getattr(resolve_counselor_class(config.counselor), "retrieves", True))
    except UnknownCounselor:
        return True


CONSISTENCY_METRICS = ("followed_up_assignment", "recall_at_k", "contradiction_rate", "references_back")
# While scoring, metrics.jsonl is rewritten (with what is scored so far) at most this often.
PROGRESS_WRITE_SECONDS = 5.0


def evaluate_run(run_dir: Path, *, judge_model: str | None = None, prompt_version: str = "v1",
                 with_judge: bool = True, on_session=None, min_agreement: float | None = None,
                 notice=None) -> CampaignSummary:
    """Score every session of ``run_dir``; returns the run summary.

    ``min_agreement`` (default: the run's ``client.min_agreement``) is the Spearman of self-reports
    with the client's latent levels below which the summary warns; ``notice`` gets, before any session
    is judged, what the judge's model offers for choosing its ratings (``ScoringOffer.words``).
    """
    run = RunLog.open(run_dir)
    if not run.sessions:
        raise InputError(run_dir / SESSIONS, "", "no finished sessions")
    config = run.config
    profiles = run.profiles()
    judge = build_judge(config, judge_model, prompt_version) if with_judge else None
    unasked: ModelUnavailable | None = None
    if judge is not None and notice is not None and hasattr(judge.llm, "scoring_offer"):
        try:
            notice(judge.llm.scoring_offer().words("judge"))
        except ModelUnavailable as error:
            # Said once the sessions are scored: a judge that stays away ends eval with one line saying why.
            unasked = error
    previous_rows = {row.key: row for row in run.metrics or []}
    retrieves = counselor_retrieves(config)

    rows: list[SessionMetrics] = []
    scored_keys: set[tuple[str, int]] = set()
    written_at = time.monotonic()
    for client_id, course in run.courses():
        consistency = consistency_metrics(course, profiles[client_id], campaign=run.name, retrieves=retrieves)
        for position, record in enumerate(course):
            index = record.session_index
            previous = course[position - 1] if position > 0 else None
            following = course[position + 1] if position + 1 < len(course) else None
            checks = consistency.get(index) or SessionConsistency()
            metrics = self_report_metrics(record, previous, following)
            left_out = appraisal_left_out(record, metrics)
            metrics.update(checks.metrics())
            risk = session_risk(record)  # what the client received, whoever wrote it (the row's risk detail)
            metrics.update(risk_metrics(authored_risk(record, "model")))
            # The scaffold's share beside the risk metrics, when the program wrote a turn after a disclosure.
            first = min((d.turn_index for d in risk.disclosures), default=len(record.turns))
            wrote = any(isinstance(t, CounselorTurn) and by_scaffold(t) for t in record.turns[first:])
            program_risk = risk_metrics(authored_risk(record, "scaffold")) if wrote else {}
            share = scaffold_turn_share(record.turns)
            metrics["scaffold_turn_share"] = share
            not_applicable = [] if retrieves else ["recall_at_k"]
            person: dict = {}
            # Client turns the program appended a sentence to: written only where there are some.
            added = {"client_sentences_added": turns} if (turns := added_sentences(record)) else {}
            if record.played_by_person:
                rated, ratings = person_metrics(record)
                metrics.update(rated)
                not_applicable += STATE_METRICS
                person = {"client": record.client, "rater": record.rater, "turn_ratings": ratings}
            prefill = closing_prefill(record.turns)
            row = SessionMetrics(
                run=run.name, client_id=client_id, session_index=index, seed=record.seed, counselor=record.counselor,
                models=record.models, metrics=metrics, consistency=checks.detail(), risk=risk,
                answers=answer_coverage(record), left_out=left_out,
                scaffold={**checks.scaffold(), **{k: v for k, v in program_risk.items() if k != "risk_disclosed"}},
                **({"not_applicable": not_applicable} if not_applicable else {}),
                **({"closing_prefill": prefill} if prefill else {}), **added, **person)
            if judge is not None:
                info, scores = _judge_scores(judge, record, profiles[client_id].pseudonym,
                                             previous_rows.get((client_id, index)),
                                             derive_seed(config.seed, client_id, index, "judge"))
                row = row.model_copy(update={"metrics": {**metrics, **scores}, "judge": info,
                                             "scaffold": {**row.scaffold, **{name: share for name in scores}}})
            rows.append(row)
            scored_keys.add(row.key)
            # Written every few seconds as sessions are scored, so an interrupted eval keeps (nearly) all it
            # scored without rewriting the whole file after every session (which grows with the run squared).
            if time.monotonic() - written_at >= PROGRESS_WRITE_SECONDS:
                write_metric_rows(run_dir, rows + [r for key, r in previous_rows.items() if key not in scored_keys])
                written_at = time.monotonic()
            if on_session:
                on_session(client_id, index)
    write_metric_rows(run_dir, rows)
    outcomes = dict(run.manifest.courses) if run.manifest else {}
    threshold = config.client.min_agreement if min_agreement is None else min_agreement
    agreement = self_report_agreement(run.sessions)
    summary = summarize(rows, config.sessions, judge.describe() if judge else None, outcomes).model_copy(update={
        "self_report_agreement": SelfReportAgreement(threshold=threshold, instruments=agreement,
                                                     warnings=agreement_warnings(agreement, threshold))})
    write_summary(run_dir, summary)
    if unasked is not None:  # the judge answered later (or had nothing to rate): what it offers stays unknown
        notice(f"WARNING: judge: what its model offers for ratings could not be asked: {unasked.plain_cause()}")
    return summary


# What the judge reads in place of a counselor turn the program wrote: not the counselor model's, not rated.
SCAFFOLD_MASK = "[a turn the program wrote from a template, not the counselor: not to be rated]"


def scaffold_turn_share(turns: list[Turn]) -> float | None:
    """The share of the session's counselor turns the program wrote (None when there are none)."""
    counselor = [t for t in turns if isinstance(t, CounselorTurn)]
    return round(sum(1 for t in counselor if by_scaffold(t)) / len(counselor), 4) if counselor else None


# What the judge reads in place of the words the program began a model's turn with (the closing prefix).
PREFILL_MASK = "[the program began this turn; the counselor's words follow]"


def judged_turns(turns: list[Turn]) -> list[Turn]:
    """The transcript the judge reads: the counselor turns the program wrote masked (``SCAFFOLD_MASK``), and
    the words it began a model's turn with (``prefilled``) replaced by ``PREFILL_MASK``: the model's words only."""
    def judged(turn: Turn) -> Turn:
        if not isinstance(turn, CounselorTurn):
            return turn
        if by_scaffold(turn):
            return turn.model_copy(update={"text": SCAFFOLD_MASK})
        if turn.prefilled:
            return turn.model_copy(update={"text": f"{PREFILL_MASK} {turn.own_text}"})
        return turn

    return [judged(turn) for turn in turns]


def closing_prefill(turns: list[Turn]) -> str | None:
    """How the model took the program's closing prefix (``CounselorTurn.prefilled``), None when no turn has one.

    "joined" when the model's words read as a turn of their own (they begin with a capital letter: the model
    ignored the prefix, as an API model may, and the program put it in front); "continued" otherwise (the
    model went on from the prefix, as the local engine does). A heuristic on the text, easy to check by eye.
    """
    prefilled = [t for t in turns if isinstance(t, CounselorTurn) and t.prefilled]
    if not prefilled:
        return None
    return "joined" if prefilled[-1].own_text[:1].isupper() else "continued"


def _judge_scores(judge: Judge, record: SessionRecord, pseudonym: str, previous_row: SessionMetrics | None,
                  seed: int) -> tuple[JudgeInfo, dict[str, float | None]]:
    """Who judged the session, and its judge scores (those of an earlier eval by the same judge are kept).

    The judge rates what the counselor's model wrote: the program's turns are masked; a session in which
    the model wrote no counselor turn is not judged (every rating None).
    """
    described = judge.describe()
    described["transcript"] += "; turns the program wrote masked; its prefilled words marked"
    before = previous_row.judge if previous_row is not None else None
    # Scores of the same judge (model, prompt version, transcript cut) are kept; any other is scored again.
    if before is not None and all(getattr(before, key) == value for key, value in described.items()):
        kept = {k: v for k, v in previous_row.metrics.items() if k.startswith(("judge_", "ctrs_"))}
        if kept:
            return before, kept
    if not any(isinstance(t, CounselorTurn) and not by_scaffold(t) for t in record.turns):
        return JudgeInfo(**described, methods={}), {name: None for name in judge.item_names()}
    scores, _ = judge.rate(judged_turns(record.turns), record.session_index, pseudonym, seed)
    methods: dict[str, int] = {}
    for score in scores.values():
        methods[score["method"]] = methods.get(score["method"], 0) + 1
    # A rating the judge model did not give (the scale's middle, filled in) is left out of the scores.
    return (JudgeInfo(**described, methods=methods),
            {name: None if score["method"] == FALLBACK_METHOD else float(score["score"]) for name, score in scores.items()})


def coverage(rows: list[SessionMetrics]) -> AnswerCoverage:
    """Answers asked and given by the model (not filled in), per role and instrument; fallbacks are left out of
    scores. A person's answers and turn ratings are counted apart ("person"): theirs are never filled in."""
    roles: dict[str, dict[str, AnswerCount]] = {}
    for row in rows:
        answered_by = roles.setdefault("person" if row.by_person else "client", {})
        counted = {**row.answers, **({"turn_ratings": row.turn_ratings} if row.turn_ratings is not None else {})}
        for key, counts in counted.items():
            into = answered_by.get(key, AnswerCount())
            answered_by[key] = AnswerCount(asked=into.asked + counts.asked, answered=into.answered + counts.answered)
    judged = [row.judge.methods for row in rows if row.judge is not None and row.judge.methods]
    parts: dict = {role: dict(sorted(counts.items())) for role, counts in sorted(roles.items()) if counts}
    if judged:
        asked = sum(sum(methods.values()) for methods in judged)
        parts["judge"] = {"ratings": AnswerCount(asked=asked,
                                                 answered=asked - sum(m.get(FALLBACK_METHOD, 0) for m in judged))}
    return AnswerCoverage(**parts)


def summarize(rows: list[SessionMetrics], planned_sessions: int, judge: dict | None,
              outcomes: Mapping[str, CourseEntry] | None = None) -> CampaignSummary:
    """The run summary; ``outcomes`` are the manifest's course entries (how each course ended)."""
    outcomes = outcomes or {}
    names = sorted({name for row in rows for name in row.metrics})
    means = {}
    for name in names:
        values = [value for row in rows if (value := row.value(name)) is not None and not math.isnan(value)]
        mean = round(sum(values) / len(values), 4) if values else None
        if not values and rows and all(name in row.not_applicable for row in rows):
            means[name] = MetricMean(mean=mean, n=0, not_applicable=True)
        else:
            beside = _scaffold_mean(rows, name)
            means[name] = MetricMean(mean=mean, n=len(values), **({"scaffold": beside} if beside is not None else {}))
    courses = defaultdict(list)
    for row in rows:
        courses[row.client_id].append(row)
    return CampaignSummary(
        run=rows[0].run if rows else None,
        sessions=len(rows),
        clients=len(courses),
        judge=JudgeInfo(**judge) if judge is not None else None,
        metrics=means,
        courses={client: course_summary(course_rows, planned_sessions, outcomes.get(client))
                 for client, course_rows in sorted(courses.items())},
        trajectory_realism=trajectory_realism(rows, outcomes),
        answer_coverage=coverage(rows),
        sessions_with_contradictions=[
            SessionContradictions(client_id=r.client_id, session_index=r.session_index,
                                  contradictions=r.consistency.contradictions)
            for r in rows if r.consistency.contradictions],
        unhandled_risk_disclosures=[
            UnhandledDisclosure(client_id=r.client_id, session_index=r.session_index, turn_index=d.turn_index,
                                missing=d.missing)
            for r in rows for d in r.risk.disclosures if not d.handled],
        client_sentences_added=sum(len(r.client_sentences_added) for r in rows),
        left_out_sessions=[
            LeftOutSession(client_id=r.client_id, session_index=r.session_index, metrics=list(r.left_out),
                           reason="; ".join(dict.fromkeys(r.left_out.values())))
            for r in rows if r.left_out],
        prefilled_closings=dict(sorted(Counter(r.closing_prefill for r in rows if r.closing_prefill).items())),
        note=NOTE,
    )


def _scaffold_mean(rows: list[SessionMetrics], name: str) -> MetricMean | None:
    """The mean of the scaffold's share beside metric ``name`` (None when no row has one)."""
    if not any(name in row.scaffold for row in rows):
        return None
    values = [float(v) for row in rows if isinstance(v := row.scaffold.get(name), (int, float))
              and not isinstance(v, bool) and not math.isnan(v)]
    return MetricMean(mean=round(sum(values) / len(values), 4) if values else None, n=len(values))
