"""Cues that a turn refers back to earlier sessions: one small, documented lexicon.

Used by the simulated client (``agents/client/past_references.py``: a counselor turn's claim
about earlier sessions earns trust when it matches what the client heard, and costs it when
not), by the
memory-consistency metrics (``simulation/evaluation/consistency.py``) and by the
HTML report's "refers back" marks (``simulation/inspection/report_sessions.py``).
Like ``risk_language``, it is a plain phrase list on purpose: its misses and false
alarms are easy to see and to test.

Phrase groups (case-insensitive, whole words; ``assignments?`` is "assignment" or
"assignments"):

* ``EARLIER_SESSION``: "last time", "last session", "last week".
* ``ASSIGNMENT``: "homework", "assignment(s)".
* ``AGREEMENT``: "we agreed", "you agreed", "we planned", "we decided".
* ``CLIENT_RECALL`` (the client recalls what was said): "you said", "I told you",
  "I mentioned", "we talked about".
* ``COUNSELOR_RECALL`` (the counselor claims what the client said): "you told me",
  "you mentioned", "you said", "you shared", "last time you".

Named patterns, one per question asked of a turn:

* ``COUNSELOR_REFERS_BACK``: does a counselor turn refer back to an earlier session?
  ``EARLIER_SESSION``, ``ASSIGNMENT`` and "we agreed". ``followed_up_assignment`` uses it
  (an early counselor turn that names the previous assignment); the client's appraisal checks
  the claims themselves (``agents/client/past_references.py``).
* ``CLIENT_REFERS_BACK``: does a client turn point at an earlier session (``recall_at_k``)?
  The phrases of ``COUNSELOR_REFERS_BACK`` and ``CLIENT_RECALL``.
* ``HOMEWORK_CLAIM``: does a counselor clause claim an agreed assignment
  (``invented_homework``)? ``ASSIGNMENT`` and ``AGREEMENT``.
* ``SETS_HOMEWORK``: does the clause set new homework instead ("for homework",
  "as an assignment", "homework for this week", "a new assignment")?
* ``EVENT_CLAIM``: does a counselor turn claim something the client said
  (``wrong_event``)? ``COUNSELOR_RECALL``.
* ``ANY_REFERENCE``: does a turn point back at all (the report's "refers back" mark)?
  Every phrase above.
"""

from __future__ import annotations

import re

EARLIER_SESSION = ("last time", "last session", "last week")
ASSIGNMENT = ("homework", "assignments?")
AGREEMENT = ("we agreed", "you agreed", "we planned", "we decided")
CLIENT_RECALL = ("you said", "i told you", "i mentioned", "we talked about")
COUNSELOR_RECALL = ("you told me", "you mentioned", "you said", "you shared", "last time you")


def phrase_pattern(*phrases: str) -> re.Pattern[str]:
    """Any of ``phrases`` (regular expressions), as whole words, case-insensitive."""
    return re.compile(r"\b(" + "|".join(dict.fromkeys(phrases)) + r")\b", re.IGNORECASE)


# What points back at an earlier session whoever says it.
REFERS_BACK = (*EARLIER_SESSION, *ASSIGNMENT, "we agreed")

COUNSELOR_REFERS_BACK = phrase_pattern(*REFERS_BACK)
CLIENT_REFERS_BACK = phrase_pattern(*REFERS_BACK, *CLIENT_RECALL)
HOMEWORK_CLAIM = phrase_pattern(*ASSIGNMENT, *AGREEMENT)
SETS_HOMEWORK = re.compile(
    r"\b(?:for|as)\s+(?:your\s+|a\s+|an\s+|some\s+|a\s+little\s+|a\s+small\s+)?(?:homework|assignment)\b"
    r"|\b(?:homework|assignment)\s+for\s+(?:this|next|the\s+coming)\s+week\b"
    r"|\bnew\s+(?:homework|assignment)\b",
    re.IGNORECASE,
)
EVENT_CLAIM = phrase_pattern(*COUNSELOR_RECALL)
ANY_REFERENCE = phrase_pattern(*EARLIER_SESSION, *ASSIGNMENT, *AGREEMENT, *CLIENT_RECALL, *COUNSELOR_RECALL)
