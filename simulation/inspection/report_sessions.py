"""The session views of the HTML report: transcripts, marks, questionnaires, memory.

Session records and rows of metrics.jsonl come validated (``record.schema``,
``simulation.core.metrics``); fields older records lack are None and shown as missing.
"""

from __future__ import annotations

import json
from typing import Any

from muspsy_sim.agents.reference_cues import ANY_REFERENCE

from ..core.metrics import Contradiction, SessionMetrics
from ..core.questionnaires import QuestionnaireResult
from ..core.turns import ClientTurn, CounselorTurn, RetrievedMemory
from ..evaluation.ground_truth import assignments, overlap
from ..evaluation.report_tables import scaffold_label
from ..record.schema import ClientStateRecord, SessionRecord

QUESTIONNAIRE_LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR", "panas": "PANAS"}
_MIN_QUOTE = 12  # characters of an assignment that must appear verbatim to be marked as a quote


def _label(key: str) -> str:
    return key.replace("_", " ")


def format_number(value: Any, digits: int = 2) -> str:
    """Integers as integers, other numbers to ``digits`` decimals, None as an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.{digits}f}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- turns -----------------------------------------------------------------------------------------


def _assignment_versions(record: SessionRecord | None) -> list[str]:
    """The assignment the client heard at the end of a session (evaluation's ground truth), as a list.

    The counselor's memory of it is not used: a check-in quoting an invented memory is not marked as a quote.
    """
    return assignments(record)


def _quote_segments(text: str, versions: list[str]) -> tuple[list[dict], bool]:
    """``text`` split into segments, the first verbatim quote of an assignment version marked."""
    lowered = text.lower()
    for version in versions:
        core = version.strip().rstrip(".!?;: ").strip()
        if len(core) < _MIN_QUOTE:
            continue
        start = lowered.find(core.lower())
        if start >= 0:
            end = start + len(core)
            segments = [{"text": text[:start], "mark": False}, {"text": text[start:end], "mark": True},
                        {"text": text[end:], "mark": False}]
            return [s for s in segments if s["text"]], True
    return [{"text": text, "mark": False}], False


def _mentions(versions: list[str], text: str) -> bool:
    best = max((overlap(v, text) for v in versions), default=0.0)
    return best >= 0.5 or (best >= 0.3 and bool(ANY_REFERENCE.search(text)))


def _retrieved(items: list[RetrievedMemory], client_id: str, session_index: int) -> list[dict]:
    views = []
    for item in items:
        source, owner, distance = item.session_index, item.client_id, item.distance
        other_client = owner is not None and owner != client_id
        kind = item.kind or "record"
        views.append({
            "tag": f"S{source}", "kind": kind, "id": item.id or "",
            "client_id": owner or "", "other_client": other_client,
            "earlier": source < session_index,
            "distance": format_number(distance, 3),
            "text": item.text,
            "title": (f"{kind} from session {source}" + (f" of client {owner}" if other_client else "")
                      + (f", distance {distance:.3f}" if distance is not None else "")),
        })
    return views


def _numbers(values: dict[str, Any]) -> str:
    return ", ".join(f"{_label(k)} {format_number(v)}" for k, v in values.items()
                     if isinstance(v, (int, float)) and not isinstance(v, bool))


def _badges(turn, quoted: bool, versions: list[str], retrieved: list[dict], flagged: list[Contradiction]) -> list[dict]:
    badges = []
    if isinstance(turn, CounselorTurn) and turn.source == "template":
        badges.append({"label": "template check-in", "cls": "checkin",
                       "title": "Fixed check-in text written by the program, not by the model"})
    if quoted:
        closing = isinstance(turn, CounselorTurn) and turn.stage == "closing"
        badges.append({"label": "repeats last assignment" if closing else "quotes last assignment",
                       "cls": "assignment", "title": "Quotes the assignment agreed at the end of the previous session"})
    elif versions and _mentions(versions, turn.text):
        badges.append({"label": "mentions last assignment", "cls": "assignment",
                       "title": "Shares most content words with the previous session's assignment"})
    elif ANY_REFERENCE.search(turn.text):
        badges.append({"label": "refers back", "cls": "refers", "title": "Uses a phrase that points at an earlier session"})
    if any(r["other_client"] for r in retrieved):
        badges.append({"label": "retrieved another client's record", "cls": "warn",
                       "title": "A retrieved memory record belongs to a different client"})
    if isinstance(turn, ClientTurn) and turn.disclosed_fact is not None:
        badges.append({"label": f"discloses private fact #{turn.disclosed_fact}", "cls": "fact",
                       "title": "The client disclosed one of the profile's private facts"})
    if isinstance(turn, ClientTurn) and turn.added:
        badges.append({"label": "sentence added by the program", "cls": "warn",
                       "title": f"Appended because the client's model did not say its risk: {turn.added}"})
    for item in flagged:
        badges.append({"label": f"contradiction: {_label(item.kind)}", "cls": "warn", "title": item.evidence})
    return badges


def _turns(record: SessionRecord, previous: SessionRecord | None, contradictions: list[Contradiction]) -> list[dict]:
    versions = _assignment_versions(previous)
    flagged: dict[int, list[Contradiction]] = {}
    for item in contradictions:
        flagged.setdefault(item.turn_index, []).append(item)
    views = []
    for index, turn in enumerate(record.turns):
        counselor = isinstance(turn, CounselorTurn)
        segments, quoted = _quote_segments(turn.text, versions)
        retrieved = _retrieved(turn.retrieved, record.client_id, record.session_index) if counselor else []
        badges = _badges(turn, quoted, versions, retrieved, flagged.get(index, []))
        state = turn.state.to_dict() if not counselor and turn.state is not None else {}
        appraisal = turn.appraisal.to_dict() if not counselor and turn.appraisal is not None else {}
        views.append({
            "index": index,
            "speaker": turn.speaker,
            "speaker_label": turn.speaker.capitalize(),
            "stage": (turn.stage or "") if counselor else "",
            "source": (turn.source or "") if counselor else "",
            "segments": segments,
            "badges": badges,
            "retrieved": retrieved,
            "memref": bool(quoted or any(b["cls"] in ("checkin", "assignment", "refers") for b in badges)
                           or any(r["earlier"] for r in retrieved)),
            "state": _numbers(state),
            "appraisal": _numbers(appraisal),
        })
    return views


# --- the other parts of a session --------------------------------------------------------------------


def _week(record: SessionRecord) -> list[dict] | None:
    if record.week_before is None:
        return None
    rows = []
    for key, value in record.week_before.to_dict().items():
        if isinstance(value, list):
            items = [format_number(v) for v in value]
            rows.append({"label": _label(key), "events": items, "value": "" if items else "none"})
        else:
            rows.append({"label": _label(key), "events": [], "value": "—" if value in (None, "") else format_number(value)})
    return rows


def _questionnaire(name: str, entry: QuestionnaireResult, prefix: str = "") -> dict:
    answers = [format_number(a) for a in entry.answers]
    subscales = [{"name": _label(k), "value": format_number(v)} for k, v in entry.subscales.items()]
    methods = ", ".join(f"{_label(k)} {format_number(v)}" for k, v in entry.methods.items())
    label = prefix + QUESTIONNAIRE_LABELS.get(name, _label(name))
    total = format_number(entry.total)
    # PANAS has no meaningful total (positive and negative affect are separate scales).
    brief = label if name == "panas" and subscales else f"{label} {total}"
    if subscales:
        brief += " (" + ", ".join(f"{s['name']} {s['value']}" for s in subscales) + ")"
    return {"label": label, "total": total, "subscales": subscales, "answers": answers,
            "methods": methods, "brief": brief}


def _questionnaires(record: SessionRecord) -> list[dict]:
    block = record.questionnaires
    if block is None:
        return []
    views = []
    for name in block.to_dict():
        entry = getattr(block, name)
        if entry is None:
            continue
        if name != "exit":
            views.append(_questionnaire(name, entry))
            continue
        views += [_questionnaire(exit_name, getattr(entry, exit_name), prefix="Exit ")
                  for exit_name in entry.to_dict() if getattr(entry, exit_name) is not None]
    return views


def _memory(record: SessionRecord) -> list[dict]:
    if record.memory is None:
        return []
    rows = []
    for key, value in record.memory.to_dict().items():
        if key == "session_index":
            continue
        if isinstance(value, list):
            value = ", ".join(format_number(v) for v in value) or "none"
        rows.append({"label": _label(key), "value": format_number(value)})
    return rows


def _state_rows(start: ClientStateRecord | None, end: ClientStateRecord | None) -> list[dict]:
    start_values = start.to_dict() if start is not None else {}
    end_values = end.to_dict() if end is not None else {}
    rows = []
    for key in dict.fromkeys([*start_values, *end_values]):
        a, b = start_values.get(key), end_values.get(key)
        if isinstance(a, list) or isinstance(b, list):
            sums = [round(sum(x), 2) if isinstance(x, list) and all(_is_number(v) for v in x) else None for x in (a, b)]
            if any(s is not None for s in sums):
                rows.append({"name": f"{_label(key)} (item sum)", "start": format_number(sums[0]),
                             "end": format_number(sums[1])})
            continue
        if not _is_number(a) and not _is_number(b):
            continue
        rows.append({"name": _label(key), "start": format_number(a if _is_number(a) else None),
                     "end": format_number(b if _is_number(b) else None)})
    return rows


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metric_view(row: SessionMetrics | None) -> dict | None:
    if row is None:
        return None
    judge = row.judge
    contradictions = [
        {"turn": format_number(c.turn_index), "kind": _label(c.kind), "evidence": c.evidence}
        for c in row.consistency.contradictions
    ]
    return {
        # A counselor metric is the model's; the scaffold's share follows it, labelled.
        "metrics": [entry for name, value in row.metrics.items() for entry in (
            [{"name": f"{name} (model)", "value": format_number(value)},
             {"name": f"{name} ({scaffold_label(name)})", "value": format_number(row.scaffold[name])}]
            if name in row.scaffold else [{"name": name, "value": format_number(value)}])],
        "judge": f"{judge.model} (prompt {judge.prompt_version or ''})" if judge is not None and judge.model else "",
        "contradictions": contradictions,
    }


def _distress(state: ClientStateRecord | None):
    return state.distress if state is not None else None


def session_view(run_index: int, client_index: int, record: SessionRecord, previous: SessionRecord | None,
                 metrics_row: SessionMetrics | None) -> dict:
    """Everything the report shows of one session (template ``report.html.j2``)."""
    contradictions = metrics_row.consistency.contradictions if metrics_row is not None else []
    turns = _turns(record, previous, contradictions)
    questionnaires = _questionnaires(record)
    return {
        "anchor": f"run-{run_index}-client-{client_index}-session-{record.session_index}",
        "index": record.session_index,
        "goal": record.goal or "(no goal recorded)",
        "goal_source": record.goal_source or "",
        "ended_by": record.ended_by or "—",
        "turn_count": len(turns),
        "memref_count": sum(1 for t in turns if t["memref"]),
        "distress": f"{format_number(_distress(record.client_state_start), 1)} → "
                    f"{format_number(_distress(record.client_state_end), 1)}",
        "turns": turns,
        "week": _week(record),
        "questionnaires": questionnaires,
        "questionnaire_brief": " · ".join(q["brief"] for q in questionnaires),
        "memory": _memory(record),
        "state": _state_rows(record.client_state_start, record.client_state_end),
        "eval": _metric_view(metrics_row),
        "followed_up": format_number(metrics_row.metrics.get("followed_up_assignment") if metrics_row else None),
        "usage": ", ".join(
            f"{role}: {format_number(u.calls)} calls, {format_number(u.prompt_tokens)}+"
            f"{format_number(u.completion_tokens)} tokens"
            for role, u in record.usage.items()
        ),
    }
