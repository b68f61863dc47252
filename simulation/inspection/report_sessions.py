"""The session and value views of the HTML report: transcripts, marks, questionnaires, memory."""

from __future__ import annotations

import json
from typing import Any

from muspsy_sim.agents.reference_cues import ANY_REFERENCE

QUESTIONNAIRE_LABELS = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR", "panas": "PANAS"}
_ROLES = ("counselor", "client", "judge")
_MIN_QUOTE = 12  # characters of an assignment that must appear verbatim to be marked as a quote


# --- small helpers ---------------------------------------------------------------------------------


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _label(key: str) -> str:
    return str(key).replace("_", " ")


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
    return _text(value)


def _pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


# --- loading ---------------------------------------------------------------------------------------



def _assignment_versions(record: dict | None) -> list[str]:
    """The assignment agreed at the end of a session: the memory field and the closing counselor turn."""
    if not record:
        return []
    versions = []
    assignment = _text(_dict(record.get("memory")).get("counseling_assignments")).strip()
    if assignment:
        versions.append(assignment)
    turns = _list(record.get("turns"))
    last = _dict(turns[-1]) if turns else {}
    if last.get("speaker") == "counselor" and last.get("stage") == "closing":
        text = _text(last.get("text")).strip()
        if text and text not in versions:
            versions.append(text)
    return versions


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
    from muspsy_sim.simulation.evaluation.consistency import overlap

    best = max((overlap(v, text) for v in versions), default=0.0)
    return best >= 0.5 or (best >= 0.3 and bool(ANY_REFERENCE.search(text)))


def _retrieved(turn: dict, client_id: str, session_index: int) -> list[dict]:
    items = []
    for item in _list(turn.get("retrieved")):
        item = _dict(item)
        source = _number(item.get("session_index"))
        owner = item.get("client_id")
        other_client = owner is not None and _text(owner) != client_id
        distance = _number(item.get("distance"))
        tag = f"S{format_number(source)}" if source is not None else "S?"
        kind = _text(item.get("kind")) or "record"
        items.append({
            "tag": tag, "kind": kind, "id": _text(item.get("id")),
            "client_id": _text(owner), "other_client": other_client,
            "earlier": source is not None and source < session_index,
            "distance": format_number(distance, 3) if distance is not None else "—",
            "text": _text(item.get("text")),
            "title": (f"{kind} from session {format_number(source)}"
                      + (f" of client {_text(owner)}" if other_client else "")
                      + (f", distance {distance:.3f}" if distance is not None else "")),
        })
    return items


def _turns(record: dict, previous: dict | None, contradictions: list[dict]) -> list[dict]:
    client_id, session_index = _text(record["client_id"]), record["session_index"]
    versions = _assignment_versions(previous)
    flagged: dict[int, list[dict]] = {}
    for item in contradictions:
        if isinstance(_dict(item).get("turn_index"), int):
            flagged.setdefault(item["turn_index"], []).append(item)
    views = []
    for index, turn in enumerate(_list(record.get("turns"))):
        turn = _dict(turn)
        speaker = _text(turn.get("speaker")) or "unknown"
        text = _text(turn.get("text"))
        segments, quoted = _quote_segments(text, versions)
        badges = []
        if turn.get("source") == "template":
            badges.append({"label": "template check-in", "cls": "checkin",
                           "title": "Fixed check-in text written by the program, not by the model"})
        if quoted:
            closing = turn.get("stage") == "closing"
            badges.append({"label": "repeats last assignment" if closing else "quotes last assignment",
                           "cls": "assignment",
                           "title": "Quotes the assignment agreed at the end of the previous session"})
        elif versions and _mentions(versions, text):
            badges.append({"label": "mentions last assignment", "cls": "assignment",
                           "title": "Shares most content words with the previous session's assignment"})
        elif ANY_REFERENCE.search(text):
            badges.append({"label": "refers back", "cls": "refers",
                           "title": "Uses a phrase that points at an earlier session"})
        retrieved = _retrieved(turn, client_id, session_index)
        if any(r["other_client"] for r in retrieved):
            badges.append({"label": "retrieved another client's record", "cls": "warn",
                           "title": "A retrieved memory record belongs to a different client"})
        fact = turn.get("disclosed_fact")
        if isinstance(fact, int) and not isinstance(fact, bool):
            badges.append({"label": f"discloses private fact #{fact}", "cls": "fact",
                           "title": "The client disclosed one of the profile's private facts"})
        for item in flagged.get(index, []):
            badges.append({"label": f"contradiction: {_label(_text(item.get('kind')))}", "cls": "warn",
                           "title": _text(item.get("evidence"))})
        state = _dict(turn.get("state"))
        appraisal = _dict(turn.get("appraisal"))
        views.append({
            "index": index,
            "speaker": speaker if speaker in ("counselor", "client") else "other",
            "speaker_label": speaker.capitalize(),
            "stage": _text(turn.get("stage")),
            "source": _text(turn.get("source")),
            "segments": segments,
            "badges": badges,
            "retrieved": retrieved,
            "memref": bool(quoted or any(b["cls"] in ("checkin", "assignment", "refers") for b in badges)
                           or any(r["earlier"] for r in retrieved)),
            "state": ", ".join(f"{_label(k)} {format_number(_number(v))}" for k, v in state.items()
                               if _number(v) is not None),
            "appraisal": ", ".join(f"{_label(k)} {format_number(_number(v))}" for k, v in appraisal.items()
                                   if _number(v) is not None),
        })
    return views


# --- the other parts of a session --------------------------------------------------------------------


def _week(record: dict) -> list[dict] | None:
    week = record.get("week_before")
    if not isinstance(week, dict):
        return None
    rows = []
    for key, value in week.items():
        if isinstance(value, list):
            items = [_text(v) for v in value]
            rows.append({"label": _label(key), "events": items, "value": "" if items else "none"})
        else:
            value = format_number(value) if _number(value) is not None or isinstance(value, bool) else _text(value)
            rows.append({"label": _label(key), "events": [], "value": value or "—"})
    return rows


def _questionnaire(name: str, entry: Any, prefix: str = "") -> dict | None:
    entry = _dict(entry)
    if not entry:
        return None
    answers = [format_number(_number(a)) if _number(a) is not None else _text(a) for a in _list(entry.get("answers"))]
    subscales = [{"name": _label(k), "value": format_number(_number(v))} for k, v in _dict(entry.get("subscales")).items()]
    methods = ", ".join(f"{_label(k)} {format_number(v)}" for k, v in _dict(entry.get("methods")).items())
    label = prefix + QUESTIONNAIRE_LABELS.get(name, _label(name))
    total = format_number(_number(entry.get("total")))
    # PANAS has no meaningful total (positive and negative affect are separate scales).
    brief = label if name == "panas" and subscales else f"{label} {total}"
    if subscales:
        brief += " (" + ", ".join(f"{s['name']} {s['value']}" for s in subscales) + ")"
    return {"label": label, "total": total, "subscales": subscales, "answers": answers,
            "methods": methods, "brief": brief}


def _questionnaires(record: dict) -> list[dict]:
    block = _dict(record.get("questionnaires"))
    views = []
    for name, entry in block.items():
        if name == "exit":
            for exit_name, exit_entry in _dict(entry).items():
                view = _questionnaire(exit_name, exit_entry, prefix="Exit ")
                if view:
                    views.append(view)
            continue
        view = _questionnaire(name, entry)
        if view:
            views.append(view)
    return views


def _memory(record: dict) -> list[dict]:
    memory = record.get("memory")
    if isinstance(memory, str):
        return [{"label": "memory", "value": memory}] if memory.strip() else []
    rows = []
    for key, value in _dict(memory).items():
        if key == "session_index":
            continue
        if isinstance(value, list):
            value = ", ".join(_text(v) for v in value) or "none"
        rows.append({"label": _label(key), "value": _text(value) if not isinstance(value, float) else format_number(value)})
    return rows


def _state_rows(record: dict) -> list[dict]:
    start, end = _dict(record.get("client_state_start")), _dict(record.get("client_state_end"))
    rows = []
    for key in dict.fromkeys([*start, *end]):
        a, b = start.get(key), end.get(key)
        if isinstance(a, list) or isinstance(b, list):
            sums = [round(sum(x), 2) if isinstance(x, list) and all(_number(v) is not None for v in x) else None
                    for x in (a, b)]
            if any(s is not None for s in sums):
                rows.append({"name": f"{_label(key)} (item sum)", "start": format_number(sums[0]),
                             "end": format_number(sums[1])})
            continue
        if _number(a) is None and _number(b) is None:
            continue
        rows.append({"name": _label(key), "start": format_number(_number(a)), "end": format_number(_number(b))})
    return rows


def _metric_view(row: dict | None) -> dict | None:
    if row is None:
        return None
    metrics = [{"name": _text(k), "value": format_number(_number(v))} for k, v in _dict(row.get("metrics")).items()]
    judge = _dict(row.get("judge"))
    consistency = _dict(row.get("consistency"))
    contradictions = [
        {"turn": format_number(_dict(c).get("turn_index")), "kind": _label(_text(_dict(c).get("kind"))),
         "evidence": _text(_dict(c).get("evidence"))}
        for c in _list(consistency.get("contradictions"))
    ]
    return {
        "metrics": metrics,
        "judge": (f"{_text(judge.get('model'))} (prompt {_text(judge.get('prompt_version'))})"
                  if judge.get("model") else ""),
        "contradictions": contradictions,
    }


def _session(run_index: int, client_index: int, record: dict, previous: dict | None, metrics_row: dict | None) -> dict:
    start, end = _dict(record.get("client_state_start")), _dict(record.get("client_state_end"))
    consistency = _dict(_dict(metrics_row).get("consistency"))
    turns = _turns(record, previous, [_dict(c) for c in _list(consistency.get("contradictions"))])
    questionnaires = _questionnaires(record)
    metric_values = _dict(_dict(metrics_row).get("metrics"))
    return {
        "anchor": f"run-{run_index}-client-{client_index}-session-{record['session_index']}",
        "index": record["session_index"],
        "goal": _text(record.get("goal")) or "(no goal recorded)",
        "goal_source": _text(record.get("goal_source")),
        "ended_by": _text(record.get("ended_by")) or "—",
        "turn_count": len(turns),
        "memref_count": sum(1 for t in turns if t["memref"]),
        "distress": f"{format_number(_number(start.get('distress')), 1)} → {format_number(_number(end.get('distress')), 1)}",
        "turns": turns,
        "week": _week(record),
        "questionnaires": questionnaires,
        "questionnaire_brief": " · ".join(q["brief"] for q in questionnaires),
        "memory": _memory(record),
        "state": _state_rows(record),
        "eval": _metric_view(metrics_row),
        "followed_up": format_number(_number(metric_values.get("followed_up_assignment"))),
        "usage": ", ".join(
            f"{_text(role)}: {format_number(_number(_dict(u).get('calls')))} calls, "
            f"{format_number(_number(_dict(u).get('prompt_tokens')))}+"
            f"{format_number(_number(_dict(u).get('completion_tokens')))} tokens"
            for role, u in _dict(record.get("usage")).items()
        ),
    }


