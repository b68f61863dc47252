"""Parsing a MusPsy ``dialogues_N.txt`` file into sessions of counselor/client turns.

Sessions are separated by lines of three or more ``#``; a line such as ``Dialogue 3rd``
or ``[Dialogue 3rd Expanded]`` is a stray header and also counts as a break. Turns start
with ``Consultant:`` (counselor) or ``User:`` (client); lines that start with neither
continue the turn before them. Empty sessions (e.g. after a trailing separator) vanish.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .textutil import Log, ends_cleanly, short, spans, squash

COUNSELOR, CLIENT = "counselor", "client"
_SPEAKERS = {
    "consultant": COUNSELOR, "counselor": COUNSELOR, "counsellor": COUNSELOR, "therapist": COUNSELOR,
    "user": CLIENT, "client": CLIENT, "patient": CLIENT, "visitor": CLIENT,
}
_SPEAKER = re.compile(
    r"^[\s>*_-]*(?P<who>consultant|counsell?or|therapist|user|client|patient|visitor)\s*[*_]*\s*[:：]\s*[*_]*\s*(?P<text>.*)$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*#{3,}")
_STRAY_HEADER = re.compile(r"^[\s\[(*_#]*(?:dialog(?:ue)?|session|conversation)\b[^:：]{0,60}$", re.IGNORECASE)
_DECOR_ONLY = re.compile(r"^[\s*#=_~-]{3,}$")
_GREETING = re.compile(
    r"^(?:hi|hello|hey|welcome|good (?:morning|afternoon|evening)|(?:it'?s |it is )?(?:nice|good|great|glad|wonderful|lovely) to (?:see|meet|have))\b",
    re.IGNORECASE,
)
SHORT_SESSION = 8  # a session before the last with fewer turns than this is reported as possibly truncated


@dataclass
class Turn:
    speaker: str
    text: str


@dataclass
class _Segment:
    line: int
    turns: list[list]  # [speaker, [pieces]]


def parse(text: str, log: Log) -> list[list[Turn]]:
    segments = [_Segment(1, [])]
    turn: list | None = None
    blank = False
    stray: list[str] = []
    orphans: list[int] = []
    empty_turns = 0

    def new_segment(line: int) -> None:
        nonlocal turn
        segments.append(_Segment(line, []))
        turn = None

    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if _SEPARATOR.match(line):
            if stripped.strip("#").strip():
                stray.append(stripped)
            new_segment(number + 1)
            continue
        if _STRAY_HEADER.match(stripped) and not _SPEAKER.match(line):
            stray.append(stripped)
            new_segment(number + 1)
            continue
        match = _SPEAKER.match(line)
        if match:
            turn = [_SPEAKERS[match["who"].lower()], [match["text"].strip()]]
            segments[-1].turns.append(turn)
            blank = False
        elif not stripped:
            blank = turn is not None
        elif _DECOR_ONLY.match(stripped):
            stray.append(stripped)
        elif turn is None:
            orphans.append(len(segments))
        else:
            turn[1].append(("\n" if blank else " ") + stripped)
            blank = False

    blocks: list[tuple[int, list[Turn]]] = []
    for segment in segments:
        turns = []
        for speaker, pieces in segment.turns:
            body = "".join(pieces).strip()
            if body:
                turns.append(Turn(speaker, body))
            else:
                empty_turns += 1
        if turns:
            blocks.append((segment.line, turns))

    for line in dict.fromkeys(stray):
        log.fix(f"stray header '{short(line, 50)}' treated as a session break" if not _DECOR_ONLY.match(line)
                else f"stray line '{short(line, 20)}' ignored")
    if orphans:
        log.fix(f"text outside any 'Consultant:'/'User:' turn ignored (in {len(set(orphans))} block{'s' if len(set(orphans)) != 1 else ''})")
    if empty_turns:
        log.fix(f"{empty_turns} empty turn{'s' if empty_turns != 1 else ''} dropped")
    if not blocks:
        return []

    blocks = _drop_outline(blocks, log)
    blocks = _split_run_together(blocks, log)
    sessions = _drop_repeats(blocks, log)
    _check(sessions, log)
    return sessions


def _greeting_breaks(turns: list[Turn]) -> list[int]:
    """Indexes where the counselor opens a new session right after speaking (no client turn between)."""
    return [
        i for i in range(1, len(turns))
        if turns[i].speaker == COUNSELOR and turns[i - 1].speaker == COUNSELOR and _GREETING.match(turns[i].text)
    ]


def _drop_outline(blocks: list[tuple[int, list[Turn]]], log: Log) -> list[tuple[int, list[Turn]]]:
    if len(blocks) < 2:
        return blocks
    breaks = _greeting_breaks(blocks[0][1])
    if len(breaks) >= 2:
        log.fix(f"outline block before the first session skipped (line {blocks[0][0]}: {len(breaks) + 1} condensed sessions in one block)")
        return blocks[1:]
    return blocks


def _split_run_together(blocks: list[tuple[int, list[Turn]]], log: Log) -> list[tuple[int, list[Turn]]]:
    result = []
    for line, turns in blocks:
        breaks = [0, *_greeting_breaks(turns), len(turns)]
        parts = [turns[a:b] for a, b in zip(breaks, breaks[1:])]
        if len(parts) > 1 and all(len(part) >= 4 for part in parts):
            log.fix(f"no separator between {len(parts)} sessions in the block at line {line}; split at the counselor's greetings")
            result.extend((line, part) for part in parts)
        else:
            result.append((line, turns))
    return result


def _drop_repeats(blocks: list[tuple[int, list[Turn]]], log: Log) -> list[list[Turn]]:
    seen: dict[tuple, int] = {}
    sessions: list[list[Turn]] = []
    for position, (line, turns) in enumerate(blocks, start=1):
        key = tuple((turn.speaker, squash(turn.text)) for turn in turns)
        if key in seen:
            log.fix(f"block at line {line} repeats session {seen[key]} word for word; kept the first")
            continue
        sessions.append(turns)
        seen[key] = len(sessions)
    return sessions


def _check(sessions: list[list[Turn]], log: Log) -> None:
    doubled: list[int] = []
    for index, turns in enumerate(sessions, start=1):
        problems = []
        if index < len(sessions) and len(turns) < SHORT_SESSION:
            problems.append(f"only {len(turns)} turns")
        if not ends_cleanly(turns[-1].text):
            problems.append("last turn ends mid-sentence")
        if problems:
            log.fix(f"session {index} looks truncated ({'; '.join(problems)}); kept as is")
        if any(a.speaker == b.speaker for a, b in zip(turns, turns[1:])):
            doubled.append(index)
    if doubled:
        log.fix(f"same speaker twice in a row in {spans(doubled)}; kept as is")


def to_json(sessions: list[list[Turn]], client_id: str, source: str) -> dict:
    return {
        "client_id": client_id,
        "source": source,
        "sessions": [
            {"session_index": index, "turns": [{"speaker": t.speaker, "text": t.text} for t in turns]}
            for index, turns in enumerate(sessions, start=1)
        ],
    }


def greeting_names(sessions: list[list[Turn]]) -> list[str]:
    """Names the counselor greets the client with ('Hi Li,' -> 'Li'), most common first."""
    counts: dict[str, int] = {}
    for turns in sessions:
        for turn in turns[:2]:
            if turn.speaker != COUNSELOR:
                continue
            match = re.match(
                r"^(?:hi|hello|hey|welcome(?: back)?|good (?:morning|afternoon|evening))[, ]+([A-Z][a-z]+(?: [A-Z][a-z]+)?)\b[,.!]",
                turn.text,
            )
            if match:
                counts[match[1]] = counts.get(match[1], 0) + 1
    return sorted(counts, key=lambda name: -counts[name])
