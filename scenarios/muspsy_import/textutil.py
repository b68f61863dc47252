"""Text helpers shared by the MusPsy importer: decoding, sentences, clipping, notes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)]*\s+(?=[\"'“‘(]?[A-Z0-9])")


@dataclass
class Log:
    """Notes for one file; ``fix`` marks the file as repaired (status 'partial')."""

    notes: list[str] = field(default_factory=list)
    repaired: bool = False

    def info(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def fix(self, message: str) -> None:
        self.repaired = True
        self.info(message)


def decode(raw: bytes, log: Log) -> str:
    """UTF-8 text with normalised line endings; bad bytes are replaced and noted."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        text = raw.decode("utf-8", errors="replace")
        count = text.count("\ufffd")
        log.fix(
            f"not valid UTF-8 (first bad byte at offset {error.start}); "
            f"{count} undecodable byte sequence{'s' if count != 1 else ''} replaced with U+FFFD"
        )
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text, removed = _CONTROL.subn("", text)
    if removed:
        log.fix(f"{removed} control character{'s' if removed != 1 else ''} removed")
    return text


def squash(text: str) -> str:
    """Whitespace runs collapsed, lines joined with single spaces."""
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    text = squash(text)
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()] if text else []


def ends_cleanly(text: str) -> bool:
    """Whether text ends like a finished sentence (not cut off mid-word)."""
    return bool(re.search(r"[.!?…:;)\]\"'”’»~]\s*$", text.strip())) if text.strip() else True


def clip(text: str, limit: int) -> tuple[str, bool]:
    """``text`` shortened to at most ``limit`` characters, at a sentence or word end if possible."""
    text = text.strip()
    if len(text) <= limit:
        return text, False
    room = text[: limit - 1]
    cut = max(room.rfind(". "), room.rfind("! "), room.rfind("? "), room.rfind("\n"))
    if cut >= limit // 2:
        return room[: cut + 1].rstrip(), True
    space = room.rfind(" ")
    if space >= limit // 2:
        room = room[:space]
    return room.rstrip(" ,;:-") + "…", True


def spans(numbers: list[int]) -> str:
    """'session 3', 'sessions 2–6' or 'sessions 1, 3, 5'."""
    numbers = sorted(set(numbers))
    if len(numbers) == 1:
        return f"session {numbers[0]}"
    if numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"sessions {numbers[0]}–{numbers[-1]}"
    return "sessions " + ", ".join(map(str, numbers))


def short(text: str, limit: int = 60) -> str:
    """A one-line quotation of ``text`` for a report note."""
    text = squash(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
