"""The counselor's safety step: recognise risk in the client's words and respond to it.

When the client's last turn discloses risk (suicidal thoughts, self-harm, danger
to self or others, recognised by the lexicon in ``agents.risk_language``), the
counselor's next turn is the safety step, from the template files beside this
module rather than from the model, so even a 135M model's counselor does it:

* ``ask_directly``: asks directly about thoughts of suicide or of hurting oneself;
* ``check_safety``: checks immediate safety ("Are you safe right now ...");
* ``crisis_resources``: gives crisis resources (``crisis_resources.yaml``:
  generic placeholder wording for a simulation, no verified services);
* ``follow_up``: plans follow-up: the next session starts with a safety check;
  in the closing stage the plan is the week's assignment ("This week, try keeping
  this safety plan close ..."), so the memory carries it forward.

The turn is recorded with ``source: "safety"`` and ``safety: {reason, category,
phrase, elements}``; then the session goes on as before. The full step is given
once per session (a client who keeps talking about it is heard by the model
after that). Every later session of the course opens with a safety check-in
(``reason: "follow_up"``), found from the earlier transcripts' client turns; the
no-memory baseline starts each session without them, so it does not follow up.
Counselors take ``safety: false`` in ``counselor_options`` to switch all this off.

What it does not do: the lexicon misses risk said in other words, and nothing
here is clinical guidance. ``simulation.evaluation.risk`` judges the counselor's
actual text, whatever produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import yaml

from muspsy_sim.simulation.core.turns import ClientTurn, CounselorTurn, SafetyStep, Turn

from ..prompting import render
from ..risk_language import detect_risk
from .base import CounselorReply, SessionContext, Stage

HERE = Path(__file__).resolve().parent
PROMPTS = HERE / "prompts"
RESOURCES = HERE / "crisis_resources.yaml"
SAFETY_ELEMENTS = ("ask_directly", "check_safety", "crisis_resources", "follow_up")


@lru_cache(maxsize=1)
def crisis_resources() -> dict:
    """The crisis-resource wording (``text``) and the note saying it is a placeholder (``note``)."""
    data = yaml.safe_load(RESOURCES.read_text(encoding="utf-8"))
    return {"text": " ".join(str(data["text"]).split()), "note": str(data["note"])}


def _just_said(turns: Sequence[Turn]) -> str:
    """The client's turn the counselor answers now ("" when the last turn is not the client's)."""
    return turns[-1].text if turns and isinstance(turns[-1], ClientTurn) else ""


def _step_given(turns: Sequence[Turn]) -> bool:
    return any(isinstance(t, CounselorTurn) and t.source == "safety" and t.safety is not None
               and t.safety.reason == "disclosure" for t in turns)


def earlier_risk(context: SessionContext) -> bool:
    """Whether a client turn of an earlier session (as far as this counselor sees them) disclosed risk."""
    return any(isinstance(t, ClientTurn) and detect_risk(t.text)
               for transcript in context.transcripts for t in transcript)


def safety_step(context: SessionContext, turns: Sequence[Turn], stage: Stage) -> CounselorReply | None:
    """The safety step when the client's last turn discloses risk (once per session), else None."""
    mention = detect_risk(_just_said(turns))
    if mention is None or _step_given(turns):
        return None
    follow_up = render(PROMPTS / f"safety_follow_up_{'closing' if stage == 'closing' else 'middle'}.txt")
    text = render(PROMPTS / "safety_step.txt", pseudonym=context.profile.pseudonym,
                  resources=crisis_resources()["text"], follow_up=follow_up)
    step = SafetyStep(reason="disclosure", category=mention.category, phrase=mention.phrase,
                      elements=list(SAFETY_ELEMENTS))
    return CounselorReply(text, [], "safety", [], step)


def safety_check_in(context: SessionContext, stage: Stage) -> str:
    """The sentence a session's opening adds after risk was disclosed in an earlier session ("" if none)."""
    if stage != "opening" or not earlier_risk(context):
        return ""
    return render(PROMPTS / "safety_check_in.txt")


def check_in_turn(context: SessionContext, text: str, base: CounselorReply | None = None) -> CounselorReply:
    """An opening that checks in on safety: ``text`` after the opening ``base`` (if any) or after a welcome."""
    step = SafetyStep(reason="follow_up", elements=["check_safety"])
    if base is None:
        return CounselorReply(f"Welcome back, {context.profile.pseudonym}. {text}", [], "safety", [], step)
    return CounselorReply(f"{base.text} {text}", base.retrieved, base.source, base.completions, step,
                          prefilled=base.prefilled)
