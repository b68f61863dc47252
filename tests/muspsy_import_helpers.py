"""Helpers for the MusPsy importer tests: writing synthetic release files and reading reports."""

from __future__ import annotations

import re
from pathlib import Path

from muspsy_sim.scenarios.muspsy_import import import_muspsy

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "muspsy"
SAMPLE_CLIENTS = ("323", "538", "1079", "1402")
HEADER = re.compile(r"^The (\d+)\w* Counseling\s*$", re.MULTILINE)


# --- helpers -------------------------------------------------------------------------------


def ordinal(number: int) -> str:
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number, 'th') }"


def block(number: int, *, header: str | None = None, emotion: str | None = None, goal: str | None = None,
          summary: str | None = None, profile: str | None = None) -> str:
    emotion = emotion or f"Anna feels anxious and lonely in week {number}, thinking nobody wants her around."
    goal = goal or f"Session {number} goal: help Anna test her belief that she is a burden."
    summary = summary or f"Explored Anna's loneliness in session {number}. Agreed on a small social step."
    profile = profile or "Anna is a nurse who recently moved to a new city for work and feels isolated."
    return (
        f"{header or f'The {ordinal(number)} Counseling'}\n"
        "Client Profile:\n"
        "Static Traits: ## User Background\n"
        "[Personal Profile]  \n"
        f"{profile}\n\n"
        "[Personal Characteristics]  \n"
        "Anna is reserved and analytical, and enjoys running in the morning.\n\n"
        "[Assessment and Diagnosis]  \n"
        "Anna shows anxiety and low mood after the move, with no formal diagnosis.\n"
        "Counseling Memory:\n"
        f"[Emotion and Cognitive State:] {emotion}\n"
        "[Counselor Observations:] The counselor notes Anna's openness to reflect.\n"
        "[Counseling Assignments:] Anna should keep a short mood diary.\n"
        f"[Session Goal:] {goal}\n"
        "Counseling Summary:\n"
        f"{summary}\n\n\n"
    )


def memories(*numbers: int) -> str:
    return "".join(block(n) for n in numbers)


def dialogue(sessions: int, turns: int = 8) -> str:
    parts = []
    for s in range(1, sessions + 1):
        lines = []
        for t in range(turns):
            who = "Consultant" if t % 2 == 0 else "User"
            opener = "Hi Anna, welcome back. " if (t == 0) else ""
            lines.append(f"{who}: {opener}Turn {t + 1} of session {s}, spoken plainly.")
        parts.append("\n\n".join(lines) + "\n#######\n")
    return "".join(parts)


def write(path: Path, text: str | bytes, crlf: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, str):
        text = (text.replace("\n", "\r\n") if crlf else text).encode("utf-8")
    path.write_bytes(text)
    return path


def client(root: Path, number: int, memory: str | bytes | None, dialogues: str | bytes | None = None) -> None:
    if memory is not None:
        write(root / "memories" / f"memories_{number}.txt", memory)
    if dialogues is not None:
        write(root / "dialogues" / f"dialogues_{number}.txt", dialogues)


def run(root: Path, tmp_path: Path):
    out = tmp_path / "out"
    report = import_muspsy(root, out)
    return report, out


def file_report(report, name: str):
    matches = [f for f in report.files if Path(f.path).name == name]
    assert len(matches) == 1, [f.path for f in report.files]
    return matches[0]


def notes(report, name: str) -> str:
    return " | ".join(file_report(report, name).notes)
