"""When and how a risk-flagged client discloses its risk (docs/client_state.md, "Risk disclosure").

A profile with ``risk_flags`` carries its risk as one of its private facts (the
facts ``agents.risk_language`` recognises as risk, e.g. "Some nights he has
thought his family would be better off without him"). That fact is disclosed
like any other once trust reaches its threshold, and in any case at the
client's first turn of the session its risk flag names ("... disclosed in
session 3"). The client's turn is then guaranteed to say it: the prompt asks for
it in the first person, and if the model's words do not carry it, the first-person
sentence is appended. The turn record marks it ``risk_disclosed: true``, and an appended
sentence as the turn's ``added`` (the program's words, not the client model's: counted in the
run and eval summaries, left out where a score reads the client's own words).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from muspsy_sim.scenarios.profile import CaseProfile

from ..risk_language import detect_risk

# The words the program appends when the client's model did not disclose (prompts/, beside the client's prompts).
_ADDED_TEMPLATE = Path(__file__).resolve().parent / "prompts" / "risk_disclosure_added.txt"
_SCHEDULED_SESSION = re.compile(r"\bsession (\d+)\b", re.IGNORECASE)
_SUBJECT = re.compile(r"\b(he|she|they)\b(\s+(?:\w+ly|sometimes|often|still|never|always|also|already|just)\b)?(\s+)(\w+)",
                      re.IGNORECASE)
_IRREGULAR = {"is": "am", "are": "am", "has": "have", "was": "was", "were": "was", "does": "do", "goes": "go"}
_MODALS = frozenset("can could will would should might must may did had".split())
# "her" before a word that starts a noun phrase is possessive ("her arm"), otherwise an object ("holds her").
_NOT_NOUN_START = frozenset("and or but to at in on with for from by of about as when if so that because".split())


def risk_fact_indices(profile: CaseProfile) -> list[int]:
    """The private facts that carry a risk-flagged profile's risk (none without a risk flag)."""
    if not profile.risk_flags:
        return []
    return [index for index, fact in enumerate(profile.private_facts) if detect_risk(fact.text)]


def scheduled_session(profile: CaseProfile) -> int | None:
    """The session a risk flag schedules the disclosure for ("disclosed in session N"), if any."""
    sessions = [int(m.group(1)) for flag in profile.risk_flags for m in _SCHEDULED_SESSION.finditer(flag)]
    return min(sessions) if sessions else None


def risk_fact_due(profile: CaseProfile, session_index: int, disclosed: list[int]) -> int | None:
    """The risk fact the schedule makes the client disclose now, if any (trust may bring it earlier)."""
    due = scheduled_session(profile)
    if due is None or session_index < due:
        return None
    pending = [index for index in risk_fact_indices(profile) if index not in disclosed]
    return pending[0] if pending else None


def _verb_for_i(verb: str) -> str:
    lower = verb.lower()
    if lower in _IRREGULAR:
        return _IRREGULAR[lower]
    if lower in _MODALS or not lower.endswith("s") or lower.endswith("ss"):
        return verb
    if lower.endswith("ies"):
        return verb[:-3] + "y"
    if re.search(r"(?:sh|ch|x|z|ss)es$", lower):
        return verb[:-2]
    return verb[:-1]


def _her(match: re.Match) -> str:
    following = match.group(2)
    return f"my{match.group(1)}{following}" if following and following.lower() not in _NOT_NOUN_START else f"me{match.group(1)}{following}"


def in_first_person(fact: str, pseudonym: str = "") -> str:
    """A third-person profile fact as the client would say it ("She feels" -> "I feel")."""
    text = fact
    first_name = pseudonym.split()[0] if pseudonym.strip() else ""
    if first_name:
        text = re.sub(rf"\b{re.escape(first_name)}\b(\s+)(\w+)",
                      lambda m: f"I{m.group(1)}{_verb_for_i(m.group(2))}", text)
    text = _SUBJECT.sub(lambda m: f"I{m.group(2) or ''}{m.group(3)}{_verb_for_i(m.group(4))}", text)
    # A verb whose subject was left out ("..., and has done it") had the client as its subject.
    text = re.sub(r"\b(and|but|or) (has|is|does)\b", lambda m: f"{m.group(1)} {_verb_for_i(m.group(2))}", text)
    text = re.sub(r"\b(?:herself|himself|themselves|themself)\b", "myself", text)
    text = re.sub(r"\b(?:his|their)\b", "my", text)
    text = re.sub(r"\b(?:him|them)\b", "me", text)
    text = re.sub(r"\bher\b(\s*)(\w*)", _her, text)
    text = re.sub(r"\bher\b", "me", text)
    return text[:1].upper() + text[1:]


def disclosure_sentence(profile: CaseProfile, fact_index: int) -> str:
    """What the client says to disclose its risk fact, in the first person."""
    return in_first_person(profile.private_facts[fact_index].text, profile.pseudonym)


def ensure_disclosed(text: str, sentence: str) -> tuple[str, str | None]:
    """The turn with the disclosure guaranteed, and what the program appended to the model's words for it
    (None when the model said it): recorded as the turn's ``added``, not the client's own words."""
    if detect_risk(text):
        return text, None
    joiner = " " if text.rstrip().endswith((".", "!", "?")) else ". "
    added = _added_template().format(sentence=sentence)
    return f"{text.rstrip()}{joiner}{added}", added


@cache
def _added_template() -> str:
    return _ADDED_TEMPLATE.read_text(encoding="utf-8").strip()
