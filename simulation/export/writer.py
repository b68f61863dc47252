"""`run_sim.py export`: filter sessions, render examples, drop duplicates, split by client, write JSONL.

Examples whose target the program filled in (template and safety turns, closing turns it began,
fallback goals, memories with filled-in fields) are left out unless ``include_filled_in``; the report
counts them by kind (``examples.LEFT_OUT``). ``form`` "session" writes the counseling task as one
example per session (``examples.session_example``) instead of one per counselor turn; the report
counts the messages to learn (``trained``) and the trainers' settings that honour the ``weight``
marks are written beside the data (``trainers``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InputError
from ..core.files import write_json_atomic, write_jsonl_atomic
from .examples import FORMATS, FORMS, TASKS, session_example, session_examples
from .sources import load_sessions
from .trainers import trainer_settings


@dataclass
class ExportReport:
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sessions_kept: int = 0
    sessions_filtered: int = 0
    duplicates_dropped: int = 0
    clients: dict[str, list[str]] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # filled-in targets by kind (examples.LEFT_OUT)
    trained: dict[str, int] = field(default_factory=dict)  # messages to learn (weight 1) by task
    trainers: Path | None = None  # how trainers honour the weight marks (trainers.py)


def _passes(metrics: dict, minimums: dict[str, float]) -> bool:
    for name, minimum in minimums.items():
        value = metrics.get(name)
        if value is None or value < minimum:
            return False
    return True


def split_clients(clients: list[str], validation_share: float, seed: int) -> tuple[set[str], set[str]]:
    """Whole clients go to validation, never part of one; at least one stays in training."""
    ordered = sorted(clients)
    random.Random(seed).shuffle(ordered)
    count = min(len(ordered) - 1, round(len(ordered) * validation_share)) if validation_share > 0 else 0
    return set(ordered[count:]), set(ordered[:count])


def export_dataset(source: Path, fmt: str, out: Path, *, tasks: tuple[str, ...] = TASKS,
                   minimums: dict[str, float] | None = None, dedupe: bool = True,
                   validation_share: float = 0.0, seed: int = 0, include_filled_in: bool = False,
                   form: str = "turn") -> ExportReport:
    if fmt not in FORMATS:
        raise InputError("--format", "", f"unknown format '{fmt}' (one of {', '.join(FORMATS)})")
    if form not in FORMS:
        raise InputError("--form", "", f"unknown form '{form}' (one of {', '.join(FORMS)})")
    if form == "session" and fmt == "muspsy":
        raise InputError("--form", "", "the per-session form marks turns with weights: use --format openai or sharegpt")
    unknown = sorted(set(tasks) - set(TASKS))
    if unknown:
        raise InputError("--task", "", f"unknown task '{unknown[0]}' (one of {', '.join(TASKS)})")
    loaded = load_sessions(source)
    minimums = minimums or {}
    by_client = defaultdict(list)
    for session in sorted(loaded.sessions, key=lambda s: (s.profile.id, s.session_index)):
        by_client[session.profile.id].append(session)

    report = ExportReport()
    rows_by_client: dict[str, list[dict]] = defaultdict(list)
    seen: set[str] = set()
    for client_id, course in by_client.items():
        for position, session in enumerate(course):
            if not _passes(session.metrics, minimums):
                report.sessions_filtered += 1
                continue
            report.sessions_kept += 1
            examples = session_examples(session, course[:position], loaded.counselor,
                                        tasks if form == "turn" else tuple(t for t in tasks if t != "counseling"),
                                        include_filled_in=include_filled_in, left_out=report.left_out)
            if form == "session" and "counseling" in tasks:
                whole = session_example(session, course[:position], loaded.counselor,
                                        include_filled_in=include_filled_in, left_out=report.left_out)
                examples += [whole] if whole is not None else []
            for example in examples:
                digest = hashlib.sha256(json.dumps(example.messages, sort_keys=True).encode()).hexdigest()
                if dedupe and digest in seen:
                    report.duplicates_dropped += 1
                    continue
                seen.add(digest)
                rows_by_client[client_id].append(FORMATS[fmt](example))
                report.trained[example.task] = report.trained.get(example.task, 0) + len(example.targets())

    train_clients, validation_clients = split_clients(list(rows_by_client), validation_share, seed)
    parts = {"train": train_clients}
    if validation_clients:
        parts["validation"] = validation_clients
    for part, clients in parts.items():
        path = out if part == "train" else out.with_name(f"{out.stem}.validation{out.suffix}")
        rows = [row for client in sorted(clients) for row in rows_by_client[client]]
        write_jsonl_atomic(path, rows)
        report.files[part], report.counts[part], report.clients[part] = path, len(rows), sorted(clients)
    report.trainers = out.with_name(f"{out.stem}.trainers.json")
    write_json_atomic(report.trainers, trainer_settings(fmt, form, [p.name for p in report.files.values()]))
    return report
