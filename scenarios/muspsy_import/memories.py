"""Parsing a MusPsy ``memories_N.txt`` file into per-session blocks, and choosing which to keep.

A block starts at a line like ``The 2nd Counseling`` (any casing, markdown decoration,
ordinal typos such as ``2th``, ordinal words such as ``Second``, or ``Session 2``).
Inside a block, labels such as ``[Personal Profile]``, ``[Session Goal:]``,
``Counseling Summary:`` or ``### Session Goal`` start a field; the lines that follow
belong to it until the next label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .textutil import Log, ends_cleanly, short, spans, squash

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
    "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11, "twelfth": 12,
}
_COUNSEL = r"c(?:ou|o|u)n[sc]+[eiy]l+ing"
_DECOR = r"[\s#>*_=~-]*"
_HEADER = re.compile(
    rf"^{_DECOR}(?P<the>the\s+)?(?:(?P<num>\d{{1,3}})|(?P<word>{'|'.join(_ORDINALS)})|(?P<bad>[a-z]))?"
    rf"\s*(?:st|nd|rd|th|d|h|t)?\.?\s*{_COUNSEL}(?:\s+session)?[\s#*_:.=~-]*$",
    re.IGNORECASE,
)
_SESSION_HEADER = re.compile(rf"^{_DECOR}(?:{_COUNSEL}\s+)?session\s*(?P<num>\d{{1,3}})[\s#*_:.=~-]*$", re.IGNORECASE)
_BRACKET = re.compile(r"^[\s#>*_-]*\[\s*([^\[\]\n]{1,80}?)\s*:?\s*\]\s*[*_]*\s*:?\s*[*_]*\s*(.*)$")
_PLAIN = re.compile(r"^[\s>*_-]*([A-Za-z][A-Za-z &/-]{1,60}?)\s*[*_]*\s*:\s*[*_]*\s*(.*)$")
_HEADING = re.compile(r"^\s*#{1,6}\s*(.*?)\s*#*\s*:?\s*$")
_DECOR_ONLY = re.compile(r"^[\s*#=_~-]{3,}$")

CONTAINER = "_container"
_INLINE = ("name", "gender", "age", "occupation")
MEMORY_KEYS = ("emotion", "emotional", "cognitive", "observations", "assignments", "goal", "summary", "events")
STATIC_KEYS = ("profile", "characteristics", "assessment", "name", "gender", "age", "occupation")
_LABEL_NAMES = {
    "emotion": "[Emotion and Cognitive State:]", "emotional": "[Emotional State:]",
    "cognitive": "[Cognitive State:]", "goal": "[Session Goal:]", "summary": "Counseling Summary",
    "observations": "[Counselor Observations:]", "assignments": "[Counseling Assignments:]",
    "profile": "[Personal Profile]", "characteristics": "[Personal Characteristics]",
    "assessment": "[Assessment and Diagnosis]",
}
_CONTAINERS = {
    "client profile", "static traits", "counseling memory", "counselling memory", "memory",
    "user background", "client background", "dynamic states", "static traits user background",
}


def canonical(label: str) -> str | None:
    """The field a label names, ``CONTAINER`` for section headings, or None when unknown."""
    key = " ".join(re.sub(r"[^a-z]+", " ", label.lower()).split())
    if not key:
        return None
    if key in _CONTAINERS:
        return CONTAINER
    words = key.split()
    checks = (
        ("summary" in key, "summary"),
        ("goal" in key or "plan" in words, "goal"),
        ("observ" in key, "observations"),
        ("assign" in key or "homework" in key, "assignments"),
        ("emotion" in key and "cognit" in key, "emotion"),
        ("emotion" in key or key in ("mood", "feelings"), "emotional"),
        ("cognit" in key, "cognitive"),
        ("event" in key, "events"),
        ("core belief" in key, "beliefs"),
        ("automatic thought" in key, "thoughts"),
        ("characteristic" in key or "personality" in key, "characteristics"),
        ("assessment" in key or "diagnos" in key, "assessment"),
        (key in ("personal profile", "personal information", "basic information", "profile"), "profile"),
        (key in ("name", "pseudonym", "client name"), "name"),
        (key in ("gender", "sex"), "gender"),
        (key == "age", "age"),
        (key in ("occupation", "job", "profession", "work"), "occupation"),
    )
    for condition, name in checks:
        if condition:
            return name
    return None


def header_number(line: str) -> tuple[bool, int | None]:
    """(is this a session header, its number or None when it has none)."""
    if len(line) > 80:
        return False, None
    match = _SESSION_HEADER.match(line)
    if match:
        return True, int(match["num"])
    match = _HEADER.match(line)
    if not match or not (match["the"] or match["num"] or match["word"]):
        return False, None
    if match["num"]:
        return True, int(match["num"])
    if match["word"]:
        return True, _ORDINALS[match["word"].lower()]
    return True, None


@dataclass
class Block:
    number: int | None
    header: str
    line: int
    parts: dict[str, list[str]] = field(default_factory=dict)
    loose: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    final: int = 0  # the number it is imported as
    last_key: str | None = None  # the field the block's last text line went to

    def text(self, key: str) -> str:
        return squash(" ".join(self.parts.get(key, [])))

    @property
    def fields(self) -> dict[str, str]:
        return {key: self.text(key) for key in self.parts}

    @property
    def rich(self) -> bool:
        """Holds a real memory or profile, not just an outline line."""
        keys = ("emotion", "emotional", "cognitive", "observations", "assignments", *STATIC_KEYS)
        return any(self.text(key) for key in keys)

    @property
    def usable(self) -> bool:
        return any(self.text(key) for key in MEMORY_KEYS)

    @property
    def has_static(self) -> bool:
        return any(self.text(key) for key in ("profile", "characteristics", "assessment"))


@dataclass
class Parsed:
    preamble: list[str]
    blocks: list[Block]


def parse(text: str) -> Parsed:
    preamble: list[str] = []
    blocks: list[Block] = []
    current: Block | None = None
    key: str | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        is_header, session = header_number(line)
        if is_header:
            current = Block(session, squash(line.strip(" \t#*_=~-")), number)
            blocks.append(current)
            key = None
        elif current is None:
            preamble.append(line)
        elif line.strip():
            key = _consume(current, line, key, allow_plain=True)
    return Parsed(preamble, blocks)


def _start(block: Block, label: str, rest: str, allow_plain: bool, previous: str | None = None) -> str | None:
    key = canonical(label)
    if key in _INLINE and rest.strip():
        # "Age: 34" holds one value; the lines after it still belong to the field around it.
        block.parts.setdefault(key, []).append(rest.strip())
        return previous if previous not in _INLINE else None
    if key is None:
        block.unknown.append(squash(label))
        key = "_unknown"
    elif key == CONTAINER:
        key = None
    else:
        block.parts.setdefault(key, [])
    if rest.strip():
        key = _consume(block, rest, key, allow_plain=allow_plain)
    return key


def _consume(block: Block, line: str, key: str | None, allow_plain: bool) -> str | None:
    """Adds one non-blank line to ``block``; returns the field later lines belong to."""
    stripped = line.strip()
    match = _BRACKET.match(line)
    if match:
        return _start(block, match[1], match[2], allow_plain=False, previous=key)
    if _DECOR_ONLY.match(stripped):
        block.stray.append(stripped)
        return key
    if stripped.startswith("#"):
        match = _HEADING.match(line)
        label = match[1] if match else stripped.strip("#")
        found = canonical(label)
        if found is None:
            block.stray.append(stripped)
            return key
        return _start(block, label, "", allow_plain)
    match = _PLAIN.match(line) if allow_plain else None
    if match and len(match[1].split()) <= 5 and canonical(match[1]) is not None:
        return _start(block, match[1], match[2], allow_plain=False, previous=key)
    if key is None:
        block.loose.append(stripped)
    elif key != "_unknown":
        block.parts[key].append(stripped)
        block.last_key = key
    return key


def _outline_like(lines: list[str]) -> bool:
    text = "\n".join(lines)
    mentions = re.findall(rf"(?i)\b(?:\d+\s*(?:st|nd|rd|th)?|{'|'.join(_ORDINALS)})\s+{_COUNSEL}|\bsession\s*\d+", text)
    return len(mentions) >= 2 or bool(re.search(r"(?i)\boutline\b", text))


def select(parsed: Parsed, log: Log) -> list[Block]:
    """The blocks to import, numbered 1..k in ``Block.final``; every drop or repair is logged."""
    blocks = parsed.blocks
    if not blocks:
        return []
    preamble = [line for line in parsed.preamble if line.strip()]
    if preamble:
        if _outline_like(preamble):
            log.fix(f"outline block before '{blocks[0].header}' skipped")
        else:
            log.fix(f"{len(preamble)} line{'s' if len(preamble) != 1 else ''} of text before '{blocks[0].header}' skipped")

    previous = 0
    for block in blocks:
        if block.number is None:
            block.number = previous + 1
            log.fix(f"header '{block.header}' (line {block.line}) has no session number; read as session {block.number}")
        previous = block.number

    first_rich = next((i for i, block in enumerate(blocks) if block.rich), None)
    if first_rich is not None and first_rich >= 2:
        outline, blocks = blocks[:first_rich], blocks[first_rich:]
        log.fix(f"outline block before '{blocks[0].header}' skipped (it lists {spans([b.number for b in outline])})")

    kept: list[Block] = []
    for block in blocks:
        if block.usable:
            kept.append(block)
        elif block.parts and not block.loose:
            if block.has_static:
                log.fix(f"session {block.number} (line {block.line}) has no memory fields or summary; skipped")
            else:
                log.fix(f"session {block.number} (line {block.line}) has only empty fields; skipped")
        elif block.loose:
            log.fix(f"session {block.number} (line {block.line}) has no recognisable fields; skipped")
        else:
            log.fix(f"session {block.number} (line {block.line}) is empty; skipped")

    _note_oddities(kept, log)

    seen: dict[int, Block] = {}
    copies: dict[int, list[Block]] = {}
    unique: list[Block] = []
    for block in kept:
        if block.number in seen:
            copies.setdefault(block.number, []).append(block)
        else:
            seen[block.number] = block
            unique.append(block)
    for number, extra in copies.items():
        same = all(b.fields == seen[number].fields for b in extra)
        times = "twice" if len(extra) == 1 else f"{len(extra) + 1} times"
        log.fix(f"session {number} appears {times}; kept the first ({'identical copies' if same else 'the copies differ'})")

    numbers = [b.number for b in unique]
    if numbers != sorted(numbers):
        unique.sort(key=lambda b: b.number)
        log.fix("sessions were out of order in the file; sorted by number")
        numbers = [b.number for b in unique]
    if numbers != list(range(1, len(numbers) + 1)):
        log.fix(f"session numbering has gaps ({', '.join(map(str, numbers))}); renumbered 1–{len(numbers)}")
    if len(unique) > 20:
        log.fix(f"{len(unique)} sessions; kept the first 20 (the profile format's limit)")
        unique = unique[:20]
    for index, block in enumerate(unique, start=1):
        block.final = index
    return unique


def _note_oddities(kept: list[Block], log: Log) -> None:
    stray: dict[str, list[int]] = {}
    unknown: dict[str, list[int]] = {}
    loose: list[int] = []
    cut: dict[str, list[int]] = {}
    for block in kept:
        for line in block.stray:
            stray.setdefault(short(line, 50), []).append(block.number)
        for label in block.unknown:
            unknown.setdefault(short(label, 50), []).append(block.number)
        if block.loose:
            loose.append(block.number)
        last = block.last_key
        if last and not ends_cleanly(block.text(last)):
            cut.setdefault(_LABEL_NAMES.get(last, f"[{last}]"), []).append(block.number)
    for line, numbers in stray.items():
        log.fix(f"stray header '{line}' ignored ({spans(numbers)})")
    for label, numbers in unknown.items():
        log.fix(f"unknown field '[{label}]' ignored ({spans(numbers)})")
    if loose:
        log.fix(f"unlabelled text ignored ({spans(loose)})")
    for label, numbers in cut.items():
        log.fix(f"{spans(numbers)}: {label} ends mid-sentence (truncated block); kept as is")

