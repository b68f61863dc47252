"""The rules appraiser's lexical cues: a cheap, documented baseline, not a judge of counseling.

Two lexicons, chosen by the dynamics preset (``DynamicsParams.legacy``):

* ``legacy_cues``: the cues before issue 23. Empathy counts empathic phrases ("sounds like",
  "makes sense", ...), push counts directive ones ("you should", "just", "always", "never", ...),
  wherever they stand, so "I don't understand why you feel that way" counted as empathic.
* ``contextual_cues`` (the default), which reads a little of the context a phrase stands in:

  - **negation** (after NegEx, Chapman et al. 2001: a trigger word governs the few words after it,
    up to the end of its clause): an empathic phrase with "not", "n't", "no", "never", "hardly"
    at most ``NEGATION_WINDOW`` words before it in the same clause (typographic apostrophes read as
    plain ones; "no wonder", "no surprise", "no doubt", "not surprising" negate nothing) does not count as empathy; it
    counts as a dismissal, which pushes like a directive ("I don't understand why you feel that
    way; it doesn't sound like a real problem." is no empathy and full push). A negated directive
    ("I'm not saying you should") does not push;
  - **reflections**: "never" and "always" inside a sentence that reflects what the client said this
    session (at least ``REFLECTION_WORDS`` of its content words, by stem, are the client's) describe
    the client's own account, and do not push ("You never gave yourself a break after the move"
    to a client who said the move left no break);
  - **repetition**: an empathic phrase the counselor already used earlier in the session earns
    ``REPEAT_DECAY`` times less each time it comes back (1, 1/2, 1/4, ...): a stock phrase wears out.

  The lexicon is larger too: "must have been", "painful", "tell me more", "what ... was like for you",
  "I can imagine", "no wonder".

Empathy is min(1, the cues' weight / 2) and push min(1, (directives + dismissals) / 2), as before.
Both miss what is said in other words, and neither knows tone: measure an appraiser against people
with the validity harness (docs/client_state.md) before trusting it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, Turn

from .past_references import content_words

LEGACY_EMPATHY = re.compile(
    r"\b(sounds like|i hear|understand|makes sense|must be|that is hard|that's hard|i'm sorry|"
    r"it seems|you feel|feeling|thank you for sharing|of course|valid)\b",
    re.IGNORECASE,
)
LEGACY_PUSH = re.compile(r"\b(you should|you must|you need to|just|simply|stop|always|never)\b", re.IGNORECASE)

EMPATHY = re.compile(
    r"\b(sounds? like|i hear|understand(?:able)?|makes? sense|must (?:be|have been|feel)|"
    r"(?:that|this|it)(?: is|'s| was| must be| sounds)(?: so| really)? (?:hard|painful|difficult|heavy)|"
    r"painful|i'm sorry|i am sorry|it seems|you feel|feelings?|thank you for sharing|of course|valid|"
    r"tell me more|i can (?:see|imagine)|no wonder|what (?:\w+ ){0,6}(?:was|is|has been) like for you)\b",
    re.IGNORECASE,
)
DIRECTIVE = re.compile(r"\b(you should|you must|you need to|just|simply|stop)\b", re.IGNORECASE)
ABSOLUTE = re.compile(r"\b(always|never)\b", re.IGNORECASE)
NEGATOR = re.compile(r"\b(not|no|never|hardly|nothing|\w+n't)\b", re.IGNORECASE)
# A negator that belongs to a phrase granting what follows ("it is no surprise you feel ...") negates nothing.
NOT_NEGATING = re.compile(r"\b(?:no (?:surprise|wonder|doubt)|not (?:surprising(?:ly)?|a surprise))\b", re.IGNORECASE)
CLAUSE_END = re.compile(r"[.;:!?,]|\b(?:but|however|although|though)\b", re.IGNORECASE)
SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")

NEGATION_WINDOW = 4  # words between a negator and the phrase it negates
REFLECTION_WORDS = 2  # content words a sentence shares with the client's to reflect them
REPEAT_DECAY = 0.5  # weight of an empathic phrase each time it comes back in the session


def legacy_cues(counselor_text: str) -> tuple[float, float]:
    """(empathy, push) by the cues before issue 23."""
    return (min(1.0, len(LEGACY_EMPATHY.findall(counselor_text)) / 2),
            min(1.0, len(LEGACY_PUSH.findall(counselor_text)) / 2))


def _negated(text: str, start: int) -> bool:
    """Whether a negator governs the phrase at ``start``: in its clause, at most NEGATION_WINDOW words before it."""
    before = text[:start]
    ends = list(CLAUSE_END.finditer(before))
    clause = before[ends[-1].end():] if ends else before
    words = clause.split()
    # A negator that belongs to an empathic phrase ("no wonder") or grants what follows ("no surprise")
    # negates nothing.
    window = NOT_NEGATING.sub(" ", EMPATHY.sub(" ", " ".join(words[-(NEGATION_WINDOW + 1):])))
    return NEGATOR.search(window) is not None


# Typographic apostrophes and quotes, as models often write them, read as the plain ones the cues are
# written with ("I don’t understand" is negated like "I don't understand"). One character for one, so
# positions in the text stay the same.
_PLAIN_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
                               "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2033": '"'})


def plain_quotes(text: str) -> str:
    """``text`` with typographic apostrophes and quotes as plain ones (same length)."""
    return text.translate(_PLAIN_QUOTES)


def _stem(word: str) -> str:
    """A crude stem, enough to match "carried" with "carrying" and "breaks" with "break"."""
    for suffix, replacement in (("ied", "y"), ("ies", "y"), ("ying", "y"), ("ing", ""), ("ed", ""), ("es", ""),
                                ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + replacement
    return word


def _stems(text: str) -> set[str]:
    return {_stem(word) for word in content_words(text)}


def empathic_phrases(text: str) -> list[str]:
    """The empathic phrases of ``text`` that no negator governs (lowercased, as said)."""
    text = plain_quotes(text)
    return [" ".join(m.group(0).lower().split()) for m in EMPATHY.finditer(text) if not _negated(text, m.start())]


def contextual_cues(counselor_text: str, session_turns: Sequence[Turn] = ()) -> tuple[float, float]:
    """(empathy, push) of a counselor turn, given this session's turns before it."""
    counselor_text = plain_quotes(counselor_text)
    said_before: dict[str, int] = {}
    for turn in session_turns:
        if isinstance(turn, CounselorTurn):
            for phrase in set(empathic_phrases(turn.text)):
                said_before[phrase] = said_before.get(phrase, 0) + 1
    empathy = sum(REPEAT_DECAY ** said_before.get(phrase, 0) for phrase in empathic_phrases(counselor_text))
    dismissals = sum(1 for m in EMPATHY.finditer(counselor_text) if _negated(counselor_text, m.start()))
    directives = sum(1 for m in DIRECTIVE.finditer(counselor_text) if not _negated(counselor_text, m.start()))
    client_said = set().union(*(_stems(t.text) for t in session_turns if isinstance(t, ClientTurn)))
    absolutes = 0
    for sentence in SENTENCE_END.split(counselor_text):
        found = len(ABSOLUTE.findall(sentence))
        if found and len(_stems(sentence) & client_said) < REFLECTION_WORDS:
            absolutes += found
    return min(1.0, empathy / 2), min(1.0, (directives + dismissals + absolutes) / 2)
