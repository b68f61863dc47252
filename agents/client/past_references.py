"""Does a counselor turn's reference to earlier sessions match what the client heard?

The rules appraisal (``agents.client.appraisal``) and the model appraisal both take the turn's
``reference`` from here: it is a fact the client can check, not a feeling. Each sentence of the
turn that claims shared history is checked against what the client itself heard in earlier
sessions (their transcripts, which the course state holds):

* a sentence that sets new homework ("for homework ...", "a new assignment") claims nothing;
* "homework", "assignment", "we agreed/planned/decided" claim an earlier assignment: true when an
  earlier session closed with one (its closing counselor turn), false in a first session;
* "last time", "last session" claim an earlier session: false in a first session;
* "last week" alone is ordinary talk about the client's week, neither true nor false;
* a claim with content of its own ("the breathing exercise we agreed on") is true only when at
  least half of its content words were said in earlier sessions; one without ("how did the
  homework go?") needs only the session or assignment it points to.

The turn scores -1 if any claim is false, else +1 if any is true, else 0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from muspsy_sim.simulation.core.turns import CounselorTurn, Turn

from ..reference_cues import AGREEMENT, ASSIGNMENT, SETS_HOMEWORK, phrase_pattern

_ASSIGNMENT_CLAIM = phrase_pattern(*ASSIGNMENT, *AGREEMENT)
_SESSION_CLAIM = phrase_pattern("last time", "last session")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[a-z']{4,}")
STOPWORDS = frozenset(
    "that this with have been from they them what when your about would there their will just feel "
    "really like very much some more than then also into because were know think".split()
)
# The claim's own words say what kind of claim it is, not what it is about.
_CLAIM_WORDS = frozenset("time session last homework assignment assignments agreed planned decided".split())


def content_words(text: str, ignore: frozenset[str] = frozenset()) -> set[str]:
    """Words of four letters or more, without common ones (and ``ignore``): what a text is about."""
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and w not in ignore}


def _closing_assignment(transcript: Sequence[Turn]) -> str:
    closings = [t.text for t in transcript if isinstance(t, CounselorTurn) and t.stage == "closing"]
    return closings[-1] if closings else ""


def _verdict(sentence: str, earlier: Sequence[Sequence[Turn]]) -> float:
    assignment = _ASSIGNMENT_CLAIM.search(sentence) is not None
    if not assignment and _SESSION_CLAIM.search(sentence) is None:
        return 0.0
    if not earlier:
        return -1.0
    if assignment and not any(_closing_assignment(t) for t in earlier):
        return -1.0
    claimed = content_words(sentence, _CLAIM_WORDS)
    if not claimed:
        return 1.0
    heard = set().union(*(content_words(turn.text) for transcript in earlier for turn in transcript))
    return 1.0 if len(claimed & heard) >= len(claimed) / 2 else -1.0


def reference_truth(counselor_text: str, earlier: Sequence[Sequence[Turn]]) -> float:
    """-1, 0 or +1: how the turn's claims about earlier sessions hold up against ``earlier`` transcripts."""
    verdicts = [_verdict(sentence, earlier) for sentence in _SENTENCE.split(counselor_text)
                if not SETS_HOMEWORK.search(sentence)]
    if -1.0 in verdicts:
        return -1.0
    return 1.0 if 1.0 in verdicts else 0.0
