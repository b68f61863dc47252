"""`run_sim.py export`: filter sessions, render examples, drop duplicates, split by client, write JSONL.

Examples whose target the program filled in (template and safety turns, fallback goals,
memories with filled-in fields) are left out unless ``include_filled_in``; the report
counts them by kind (``examples.LEFT_OUT``).
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InputError
from ..core.files import write_jsonl_atomic
from .examples import FORMATS, TASKS, session_examples
from .sources import load_sessions


@dataclass
class ExportReport:
    files: dict[str, Path] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sessions_kept: int = 0
    sessions_filtered: int = 0
    duplicates_dropped: int = 0
    clients: dict[str, list[str]] = field(default_factory=dict)
    left_out: dict[str, int] = field(default_factory=dict)  # filled-in targets by kind (examples.LEFT_OUT)


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
                   validation_share: float = 0.0, seed: int = 0, include_filled_in: bool = False) -> ExportReport:
    if fmt not in FORMATS:
        raise InputError("--format", "", f"unknown format '{fmt}' (one of {', '.join(FORMATS)})")
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
            for example in session_examples(session, course[:position], loaded.counselor, tasks,
                                            include_filled_in=include_filled_in, left_out=report.left_out):
                digest = hashlib.sha256(json.dumps(example.messages, sort_keys=True).encode()).hexdigest()
                if dedupe and digest in seen:
                    report.duplicates_dropped += 1
                    continue
                seen.add(digest)
                rows_by_client[client_id].append(FORMATS[fmt](example))

    train_clients, validation_clients = split_clients(list(rows_by_client), validation_share, seed)
    parts = {"train": train_clients}
    if validation_clients:
        parts["validation"] = validation_clients
    for part, clients in parts.items():
        path = out if part == "train" else out.with_name(f"{out.stem}.validation{out.suffix}")
        rows = [row for client in sorted(clients) for row in rows_by_client[client]]
        write_jsonl_atomic(path, rows)
        report.files[part], report.counts[part], report.clients[part] = path, len(rows), sorted(clients)
    return report
