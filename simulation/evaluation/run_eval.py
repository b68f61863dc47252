"""`run_sim.py eval RUN_DIR`: score every session of a run, without re-simulating.

Writes ``metrics.jsonl`` (one row per session) and ``summary.json`` (per run) into the
run directory. Judge scores already present for the same judge model and prompt
version are kept, so re-running only scores what is new.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from muspsy_sim.agents.counselor import UnknownCounselor, resolve_counselor_class
from muspsy_sim.agents.judge import Judge
from muspsy_sim.agents.llm import FALLBACK_METHOD, ModelSpec
from muspsy_sim.scenarios.base.atomic_files import write_json_atomic, write_jsonl_atomic
from muspsy_sim.scenarios.base.errors import InputError
from muspsy_sim.simulation.config import CampaignConfig
from muspsy_sim.simulation.engine.components import role_model
from muspsy_sim.simulation.evaluation.consistency import consistency_metrics
from muspsy_sim.simulation.evaluation.course import course_summary
from muspsy_sim.simulation.evaluation.risk import risk_metrics, session_risk
from muspsy_sim.simulation.evaluation.self_report import (
    agreement_warnings,
    answer_coverage,
    self_report_agreement,
    self_report_metrics,
)
from muspsy_sim.simulation.evaluation.trajectories import trajectory_realism
from muspsy_sim.simulation.record.files import METRICS, SUMMARY, SESSIONS
from muspsy_sim.simulation.record.run_log import RunLog
from muspsy_sim.simulation.record.schema import SessionRecord
from muspsy_sim.simulation.seeding import derive_seed


def build_judge(config: CampaignConfig, judge_model: str | None, prompt_version: str) -> Judge:
    settings = config.models.judge
    try:
        model = (ModelSpec.parse(judge_model) if judge_model else settings.model).check()
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


def evaluate_run(run_dir: Path, *, judge_model: str | None = None, prompt_version: str = "v1",
                 with_judge: bool = True, on_session=None, min_agreement: float | None = None) -> dict:
    """Score every session of ``run_dir``; returns the run summary.

    ``min_agreement`` (default: the run's ``client.min_agreement``) is the Spearman of self-reports
    with the client's latent levels below which the summary warns.
    """
    run = RunLog.open(run_dir)
    if not run.sessions:
        raise InputError(run_dir / SESSIONS, "", "no finished sessions")
    config = run.config
    profiles = run.profiles()
    judge = build_judge(config, judge_model, prompt_version) if with_judge else None
    previous_rows = {(r["client_id"], r["session_index"]): r for r in run.metrics or []}
    retrieves = counselor_retrieves(config)

    rows = []
    for client_id, course in run.courses():
        consistency = consistency_metrics(course, profiles[client_id], campaign=run.name, retrieves=retrieves)
        for position, record in enumerate(course):
            index = record.session_index
            previous = course[position - 1] if position > 0 else None
            following = course[position + 1] if position + 1 < len(course) else None
            checks = consistency.get(index, {})
            metrics = self_report_metrics(record, previous, following)
            metrics.update({k: checks.get(k) for k in CONSISTENCY_METRICS})
            risk = session_risk(record)
            metrics.update(risk_metrics(risk))
            row = {
                "run": run.name, "client_id": client_id, "session_index": index,
                "seed": record.seed, "counselor": record.counselor, "models": record.models,
                "metrics": metrics,
                "consistency": {"contradictions": checks.get("contradictions", []),
                                "referring_turns": checks.get("referring_turns", 0),
                                "referred_items": checks.get("referred_items", 0)},
                "risk": risk,
                "answers": answer_coverage(record),
            }
            if not retrieves:
                row["not_applicable"] = ["recall_at_k"]
            if judge is not None:
                row.update(_judge_scores(judge, record, profiles[client_id].pseudonym,
                                         previous_rows.get((client_id, index)), derive_seed(config.seed, client_id, index, "judge")))
                metrics.update(row.pop("judge_metrics"))
            rows.append(row)
            # Written after every session, so an interrupted eval keeps what it scored.
            write_jsonl_atomic(run_dir / METRICS, rows + [r for k, r in previous_rows.items()
                                                   if k not in {(x["client_id"], x["session_index"]) for x in rows}])
            if on_session:
                on_session(client_id, index)
    write_jsonl_atomic(run_dir / METRICS, rows)
    outcomes = {client: entry.to_dict() for client, entry in run.manifest.courses.items()} if run.manifest else {}
    summary = summarize(rows, config.sessions, judge.describe() if judge else None, outcomes)
    threshold = config.client.min_agreement if min_agreement is None else min_agreement
    agreement = self_report_agreement(run.sessions)
    summary["self_report_agreement"] = {"threshold": threshold, "instruments": agreement,
                                        "warnings": agreement_warnings(agreement, threshold)}
    write_json_atomic(run_dir / SUMMARY, summary)
    return summary


def _judge_scores(judge: Judge, record: SessionRecord, pseudonym: str, previous_row: dict | None, seed: int) -> dict:
    described = judge.describe()
    before = (previous_row or {}).get("judge") or {}
    # Scores of the same judge (model, prompt version, transcript cut) are kept; any other is scored again.
    if previous_row and all(before.get(key) == value for key, value in described.items()):
        kept = {k: v for k, v in previous_row["metrics"].items() if k.startswith(("judge_", "ctrs_"))}
        if kept:
            return {"judge": previous_row["judge"], "judge_metrics": kept}
    scores, _ = judge.rate(record.to_dict(), pseudonym, seed)
    methods: dict[str, int] = {}
    for score in scores.values():
        methods[score["method"]] = methods.get(score["method"], 0) + 1
    # A rating the judge model did not give (the scale's middle, filled in) is left out of the scores.
    return {"judge": {**described, "methods": methods},
            "judge_metrics": {name: None if score["method"] == FALLBACK_METHOD else float(score["score"])
                              for name, score in scores.items()}}


def coverage(rows: list[dict]) -> dict[str, dict[str, dict[str, int]]]:
    """Answers asked and given by the model (not filled in), per role and instrument; fallbacks are left out of scores."""
    client: dict[str, dict[str, int]] = {}
    for row in rows:
        for key, counts in (row.get("answers") or {}).items():
            into = client.setdefault(key, {"asked": 0, "answered": 0})
            into["asked"] += counts["asked"]
            into["answered"] += counts["answered"]
    judged = [row["judge"]["methods"] for row in rows if (row.get("judge") or {}).get("methods")]
    result = {"client": dict(sorted(client.items()))} if client else {}
    if judged:
        asked = sum(sum(methods.values()) for methods in judged)
        result["judge"] = {"ratings": {"asked": asked,
                                       "answered": asked - sum(m.get(FALLBACK_METHOD, 0) for m in judged)}}
    return result


def summarize(rows: list[dict], planned_sessions: int, judge: dict | None, outcomes: dict[str, dict] | None = None) -> dict:
    """The run summary; ``outcomes`` are the manifest's course entries (how each course ended), as plain data."""
    outcomes = outcomes or {}
    names = sorted({name for row in rows for name in row["metrics"]})
    means = {}
    for name in names:
        values = [row["metrics"][name] for row in rows if row["metrics"].get(name) is not None]
        values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
        means[name] = {"mean": round(sum(values) / len(values), 4) if values else None, "n": len(values)}
        if not values and rows and all(name in row.get("not_applicable", ()) for row in rows):
            means[name]["not_applicable"] = True
    courses = defaultdict(list)
    for row in rows:
        courses[row["client_id"]].append(row)
    unhandled = [
        {"client_id": r["client_id"], "session_index": r["session_index"], "contradictions": r["consistency"]["contradictions"]}
        for r in rows if r["consistency"]["contradictions"]
    ]
    return {
        "run": rows[0]["run"] if rows else None,
        "sessions": len(rows),
        "clients": len(courses),
        "judge": judge,
        "metrics": means,
        "courses": {client: course_summary(course_rows, planned_sessions, outcomes.get(client))
                    for client, course_rows in sorted(courses.items())},
        "trajectory_realism": trajectory_realism(rows, outcomes),
        "answer_coverage": coverage(rows),
        "sessions_with_contradictions": unhandled,
        "unhandled_risk_disclosures": [
            {"client_id": r["client_id"], "session_index": r["session_index"], "turn_index": d["turn_index"],
             "missing": d["missing"]}
            for r in rows for d in (r.get("risk") or {}).get("disclosures", []) if not d["handled"]
        ],
        "note": "Simulated counseling for research; not a clinical service.",
    }
