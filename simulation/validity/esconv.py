"""Reading conversations in the public ESConv format (Liu et al., ACL 2021), skipping malformed ones.

A file is a JSON list of conversations: ``emotion_type``, ``problem_type``, ``situation``,
``survey_score.seeker`` (``initial_emotion_intensity``, ``final_emotion_intensity``, ``empathy``,
``relevance``: "1".."5" as strings, sometimes empty or missing) and ``dialog``, a list of
``{speaker, annotation, content}``. Speakers are ``seeker``/``supporter`` in one release and
``speaker``/``listener`` in another. A help-seeker's message may carry ``annotation.feedback``
("1".."5"): how helpful the supporter's messages just before it felt.

Consecutive messages of one side become one turn (a supporter often sends several in a row);
a turn's feedback is the first one its messages carry. A conversation that cannot be replayed
is skipped with a reason; a file that cannot be read at all is an ``InputError``.

Beyond ESConv: a conversation may carry the help-seeker's questionnaire totals, ``questionnaires``:
``{"phq9": {"before": 14, "after": 9}, "gad7": {...}, "wai_sr": {"after": 41}}`` (any of them; totals
on the instruments' own scales). The harness then compares the simulated client's own answers to the
same questionnaires with them, as `eval` reports them: PHQ-9 and GAD-7 change, WAI-SR total.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import InputError
from ..core.turns import ClientTurn, CounselorTurn, Turn

# Both spellings of the two sides, as the client and the counselor of a session record.
SPEAKERS = {"seeker": "client", "speaker": "client", "supporter": "counselor", "listener": "counselor"}
SURVEY = ("initial_emotion_intensity", "final_emotion_intensity", "empathy", "relevance")
# Questionnaire totals a conversation may carry: instrument -> (moments asked, lowest and highest total).
QUESTIONNAIRES = {"phq9": (("before", "after"), 0, 27), "gad7": (("before", "after"), 0, 21),
                  "wai_sr": (("after",), 12, 60)}


class Malformed(ValueError):
    """A conversation that cannot be replayed, and why."""


@dataclass(frozen=True)
class ChatTurn:
    """One side's run of messages: the help-seeker's (as the client) or the supporter's (as the counselor)."""

    speaker: str  # "client" or "counselor"
    text: str
    feedback: int | None = None  # the seeker's rating of the supporter's messages just before (1..5)

    def as_turn(self) -> Turn:
        """The turn as a session record holds it (what the simulated client hears)."""
        return ClientTurn(text=self.text) if self.speaker == "client" else CounselorTurn(text=self.text)


@dataclass(frozen=True)
class Conversation:
    index: int  # position in the file (0-based)
    emotion: str
    problem: str
    situation: str
    survey: dict[str, int | None]  # SURVEY keys; None where missing or empty
    turns: list[ChatTurn] = field(default_factory=list)
    questionnaires: dict[str, dict[str, int]] = field(default_factory=dict)  # the seeker's totals, when given

    @property
    def rated_turns(self) -> int:
        return sum(1 for t in self.turns if t.feedback is not None)


@dataclass(frozen=True)
class Skipped:
    index: int
    reason: str


def _rating(value: object, where: str) -> int | None:
    """A 1..5 rating given as a string (or a number); None when empty or missing."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        rating = float(value)
    except (TypeError, ValueError):
        raise Malformed(f"{where}: {value!r} is not a rating") from None
    if not rating.is_integer() or not 1 <= rating <= 5:
        raise Malformed(f"{where}: {value!r} is not a rating 1..5")
    return int(rating)


def _text(entry: dict, key: str) -> str:
    value = entry.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Malformed(f"{key} is not text")
    return value.strip()


def _turns(dialog: object) -> list[ChatTurn]:
    if not isinstance(dialog, list) or not dialog:
        raise Malformed("dialog is missing or empty")
    turns: list[ChatTurn] = []
    for number, message in enumerate(dialog):
        if not isinstance(message, dict):
            raise Malformed(f"dialog[{number}] is not an object")
        side = SPEAKERS.get(str(message.get("speaker", "")).strip().lower())
        if side is None:
            raise Malformed(f"dialog[{number}].speaker {message.get('speaker')!r} is none of {', '.join(SPEAKERS)}")
        content = message.get("content")
        if not isinstance(content, str):
            raise Malformed(f"dialog[{number}].content is not text")
        annotation = message.get("annotation") or {}
        if not isinstance(annotation, dict):
            raise Malformed(f"dialog[{number}].annotation is not an object")
        feedback = _rating(annotation.get("feedback"), f"dialog[{number}].annotation.feedback") if side == "client" else None
        if not content.strip():
            continue
        if turns and turns[-1].speaker == side:
            last = turns[-1]
            turns[-1] = ChatTurn(side, f"{last.text} {content.strip()}",
                                 last.feedback if last.feedback is not None else feedback)
        else:
            turns.append(ChatTurn(side, content.strip(), feedback))
    if not any(t.speaker == "client" for t in turns) or not any(t.speaker == "counselor" for t in turns):
        raise Malformed("dialog needs messages from both the help-seeker and the supporter")
    return turns


def _questionnaires(value: object) -> dict[str, dict[str, int]]:
    """The seeker's questionnaire totals (see the module notes); {} when none are given."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Malformed("questionnaires is not an object")
    totals: dict[str, dict[str, int]] = {}
    for key, moments in value.items():
        if key not in QUESTIONNAIRES:
            raise Malformed(f"questionnaires.{key}: not one of {', '.join(QUESTIONNAIRES)}")
        allowed, low, high = QUESTIONNAIRES[key]
        if not isinstance(moments, dict) or not set(moments) <= set(allowed):
            raise Malformed(f"questionnaires.{key}: expected {{{', '.join(allowed)}}} totals")
        for moment, total in moments.items():
            if isinstance(total, bool) or not isinstance(total, int) or not low <= total <= high:
                raise Malformed(f"questionnaires.{key}.{moment}: {total!r} is not a total {low}..{high}")
        totals[key] = dict(moments)
    return totals


def parse_conversation(index: int, entry: object) -> Conversation:
    """One conversation of the file, or ``Malformed`` with the reason."""
    if not isinstance(entry, dict):
        raise Malformed("not an object")
    survey_score = entry.get("survey_score") or {}
    seeker = survey_score.get("seeker") if isinstance(survey_score, dict) else None
    if seeker is not None and not isinstance(seeker, dict):
        raise Malformed("survey_score.seeker is not an object")
    seeker = seeker or {}
    survey = {key: _rating(seeker.get(key), f"survey_score.seeker.{key}") for key in SURVEY}
    return Conversation(index=index, emotion=_text(entry, "emotion_type"), problem=_text(entry, "problem_type"),
                        situation=_text(entry, "situation"), survey=survey, turns=_turns(entry.get("dialog")),
                        questionnaires=_questionnaires(entry.get("questionnaires")))


def read_conversations(path: Path) -> tuple[list[Conversation], list[Skipped]]:
    """The replayable conversations of an ESConv-format file, and the skipped ones with their reasons."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(path, "", "no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(path, "", f"cannot read it: {error}") from None
    except json.JSONDecodeError as error:
        raise InputError(path, "", f"not JSON: {error.msg} at line {error.lineno}") from None
    if not isinstance(data, list):
        raise InputError(path, "", "expected a JSON list of conversations (the ESConv format)")
    conversations, skipped = [], []
    for index, entry in enumerate(data):
        try:
            conversations.append(parse_conversation(index, entry))
        except Malformed as reason:
            skipped.append(Skipped(index, str(reason)))
    return conversations, skipped
