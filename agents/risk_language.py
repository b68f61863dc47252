"""Recognising risk disclosures in text: a small, documented lexicon.

Used by the simulated client (to find which of a risk-flagged profile's private
facts is its risk, and to check its own turn says it), and by the counselor's
safety step (to notice risk in the client's last turn). It is a plain pattern
list on purpose: a 135M model cannot be trusted to classify risk, and a lexicon's
misses and false alarms are easy to see and to test.

Categories and what counts (case-insensitive, whole words):

* ``suicide``: "suicide", "suicidal", "kill myself", "end my life", "end it all",
  "take/taking my (own) life", "want(ed) to die", "wish I was/were dead", "better off
  without me/him/her/them", "better off dead", "not (want to) wake up",
  "don't/do not want to live / be alive / be here / exist", "not wanting to be
  here/alive", "wish I could not be here", "no reason/point (in) living / to live / going on", "not worth living".
* ``self_harm``: "self-harm", "hurt/harm/cut/burn myself (herself, himself,
  themselves)", "cutting myself", urges to cut/scratch/burn/hurt, "scratch(ed)
  my/her/his arm(s)/wrist(s)/skin/leg(s)".
* ``danger``: driving after drinking or drunk ("drove ... after heavy drinking",
  "drunk driving", "drink-driving", "over the limit"), and "overdose".

Negation: a match is discarded when "not", "no", "never", "n't", "nothing" or
"without" stands among the three words before it in the same clause ("I'm not
suicidal", "I would never hurt myself", "no thoughts of suicide"), because a
denial is not a disclosure -- unless the negation is "can't stop" / "cannot
help" ("I can't stop thinking about suicide" is a disclosure). Phrases that are risky *because of* a negation
("don't want to live", "not wake up", "better off without me") are matched as a
whole and are never discarded. A text with one denied and one affirmed phrase
("I'm not suicidal, but I wish I were dead") counts as a disclosure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_OBJ = r"(?:myself|herself|himself|themselves|themself|yourself)"
_LIMB = r"(?:arms?|wrists?|skin|legs?|thighs?)"

# Phrases that carry their own negation: never discarded by the negation rule.
_NEGATED_RISK = {
    "suicide": [
        r"(?:do not|don't|dont|did not|didn't|does not|doesn't|not) (?:really )?(?:want|wanting|wish|wishing) to (?:live|be alive|be here|exist|wake up|go on)",
        r"not wanting to (?:be here|be alive|live|exist)",
        r"wish(?:es|ed)? (?:i|she|he|they) (?:could )?not be (?:here|alive|around)",
        r"(?:could|would|to) (?:go to sleep and )?not wake up",
        r"never wake up",
        r"better off without (?:me|him|her|them)",
        r"no (?:reason|point) (?:to live|in living|to go on|in going on|living)",
        r"not worth living",
    ],
}
_RISK = {
    "suicide": [
        r"suicid\w*",
        r"kill(?:ing)? " + _OBJ,
        r"end(?:ing)? (?:my|her|his|their) (?:own )?life",
        r"end(?:ing)? it all",
        r"tak(?:e|ing) (?:my|her|his|their) (?:own )?life",
        r"want(?:s|ed)? to die",
        r"wish(?:es|ed)? (?:i|she|he|they) (?:was|were) dead",
        r"better off dead",
    ],
    "self_harm": [
        r"self[- ]?harm\w*",
        r"(?:hurt|harm|cut|burn)(?:s|ing|ed)? " + _OBJ,
        r"urges? to (?:cut|scratch|burn|hurt|harm)",
        r"scratch(?:es|ing|ed)? (?:at )?(?:my|her|his|their) " + _LIMB,
    ],
    "danger": [
        r"dr(?:ove|ive|ives|iving|iven)\b[^.!?]{0,80}\b(?:after|while) (?:heavy |a lot of )?(?:drinking|drunk)",
        r"dr(?:ove|ive|ives|iving|iven)\b[^.!?]{0,80}\bover the limit",
        r"drunk[- ]driv\w*",
        r"drink[- ]driv\w*",
        r"overdos\w*",
    ],
}
_NEGATION = re.compile(r"\b(?:not|no|never|nothing|without|\w+n't|cannot)\b", re.IGNORECASE)
_NEGATION_UNDONE = re.compile(r"\b(?:can't|cannot|can not|couldn't) (?:stop|help)\b", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[.,;:!?]|\b(?:but|though|although|yet)\b", re.IGNORECASE)


def _compile(groups: dict[str, list[str]]) -> list[tuple[str, re.Pattern]]:
    return [(category, re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE))
            for category, patterns in groups.items() for pattern in patterns]


_NEGATED_PATTERNS = _compile(_NEGATED_RISK)
_PATTERNS = _compile(_RISK)


@dataclass(frozen=True)
class RiskMention:
    category: str  # "suicide", "self_harm" or "danger"
    phrase: str


def _denied(text: str, start: int) -> bool:
    """Whether a negation stands among the three words before ``start``, in the same clause."""
    window = " ".join(_CLAUSE_BREAK.split(text[:start])[-1].split()[-3:])
    return bool(_NEGATION.search(window)) and not _NEGATION_UNDONE.search(window)


def risk_mentions(text: str) -> list[RiskMention]:
    """Every affirmed risk phrase in ``text``, in the order found (see the module notes)."""
    text = text.replace("\u2019", "'")
    found = [RiskMention(category, m.group(0)) for category, pattern in _NEGATED_PATTERNS for m in pattern.finditer(text)]
    found += [RiskMention(category, m.group(0)) for category, pattern in _PATTERNS
              for m in pattern.finditer(text) if not _denied(text, m.start())]
    return found


def detect_risk(text: str) -> RiskMention | None:
    """The first affirmed risk phrase in ``text``, or None."""
    mentions = risk_mentions(text)
    return mentions[0] if mentions else None
