"""Replaying a real support conversation through the simulated client (replay, not regenerate).

The help-seeker's own words are the client's turns and the supporter's messages the counselor's;
nothing is generated. The client is seeded from a profile built from the conversation (its
situation, problem, emotion and initial intensity). After each supporter turn the client appraises
it (rules or its model) and its state moves by the usual dynamics; at a seeker turn that carries
feedback the appraisal's worth (``trust_change``: how much the turn moves trust) is kept beside the
rating. At the end the client fills in the session rating (empathy, relevance, emotion intensity;
``agents/client/instruments/session_rating.yaml``) in the campaign's self-report modes, and the
questionnaires the seeker's data carry (PHQ-9 and GAD-7 at the start and the end, WAI-SR at the end).

What the client's model did not give is none of its ratings (eval's rule): a turn whose appraisal has a
filled-in item gives no rated pair, a session-rating answer or questionnaire total with a filled-in answer
is None, and once the state moved on filled-in appraisal items the end-of-session answers and the
distress change are left out (``moved_on_filled_in``); the harness counts every pair so dropped.

What the client may see, so that no figure can read the answer off the seeker: an appraisal sees
the dialogue up to the supporter turn it rates, never a later seeker turn (the one carrying the
rating comes after it); the end-of-session answers see the dialogue up to the last supporter turn,
not the seeker's words after it (a closing "thank you, I feel so much calmer now" is the seeker's
verdict). With ``masked`` the client hears the supporter's turns only: no seeker word at all, so a
figure that lives on the seeker's own words falls to chance there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from muspsy_sim.agents.client import AppraisalContext, Appraiser, ClientState, DynamicsParams
from muspsy_sim.agents.client.dynamics import after_counselor_turn, trust_change
from muspsy_sim.agents.client.questionnaires import administer, instruments
from muspsy_sim.agents.llm import Completion, LanguageModel, usage_of
from muspsy_sim.scenarios.profile import CaseProfile, InitialState, SessionPlan

from ..core.questionnaires import QuestionnaireResult
from ..core.turns import CounselorTurn, Turn
from ..core.usage import RoleUsage
from ..evaluation.self_report import entry_total
from ..seeding import derive_rng, derive_seed
from .esconv import Conversation

SESSION_RATING = "session_rating"
_UNKNOWN_INTENSITY = 3


def _tag(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "unspecified"


def intensity_to_distress(intensity: int) -> float:
    """ESConv's emotion intensity 1..5 as distress 0..10 (so the latent intensity reads it back exactly)."""
    return (intensity - 1) * 2.5


def profile_for(conversation: Conversation) -> CaseProfile:
    """The client's profile: who it is is unknown, what it brings is the conversation's."""
    problem = conversation.problem or "an unspecified problem"
    emotion = conversation.emotion or "upset"
    situation = conversation.situation or f"Dealing with {problem}."
    intensity = conversation.survey["initial_emotion_intensity"] or _UNKNOWN_INTENSITY
    return CaseProfile(
        id=f"esconv-{conversation.index}",
        pseudonym="Alex",
        age=30,
        gender="unspecified",
        occupation="person seeking emotional support in an online chat",
        presenting_problem=f"{problem} ({emotion}): {situation}"[:1000],
        background=situation[:3000],
        personality="not known",
        speaking_style="writes short chat messages",
        tags=[_tag(problem), _tag(emotion)],
        initial_state=InitialState(distress=intensity_to_distress(intensity), trust=5.0, openness=0.6, resistance=0.2),
        course_plan=[SessionPlan(emotional_state=f"You feel {emotion}.", cognitive_state=situation[:1000],
                                 goal="emotional support")],
    )


@dataclass
class Replayed:
    """What the simulated client made of one conversation."""

    index: int
    rated: list[tuple[float, int]]  # (the appraisal's trust change, the seeker's feedback) per rated turn
    session_rating: QuestionnaireResult  # the client's session_rating questionnaire
    survey: dict[str, int | None]  # the seeker's own
    appraisal_methods: dict[str, int] = field(default_factory=dict)
    usage: RoleUsage = field(default_factory=RoleUsage)
    distress_drop: float = 0.0  # the client's distress at the start minus at the end, in intensity units (1..5)
    # The client's totals, as the seeker's (None: an answer in it was filled in).
    questionnaires: dict[str, dict[str, int | None]] = field(default_factory=dict)
    seeker_questionnaires: dict[str, dict[str, int]] = field(default_factory=dict)
    self_report_methods: dict[str, int] = field(default_factory=dict)  # session rating and questionnaires
    rated_left_out: int = 0  # rated turns whose appraisal had a filled-in item: no pair
    moved_on_filled_in: bool = False  # the state moved on filled-in appraisal items: end-of-session left out

    @property
    def reported(self) -> dict[str, int | None]:
        """The session rating's answers, None where the answer was filled in."""
        filled = self.session_rating.filled_in_items()
        empathy, relevance, intensity = (None if number in filled else answer
                                         for number, answer in enumerate(self.session_rating.answers, start=1))
        return {"empathy": empathy, "relevance": relevance, "final_intensity": intensity}


def replay(conversation: Conversation, appraiser: Appraiser, llm: LanguageModel, self_report: str,
           params: DynamicsParams, seed: int, *, masked: bool = False) -> Replayed:
    """What the client makes of ``conversation`` (``masked``: hearing the supporter's turns only)."""
    profile = profile_for(conversation)
    state = start = ClientState.initial(profile)
    heard: list[Turn] = []
    rated: list[tuple[float, int]] = []
    methods: dict[str, int] = {}
    completions: list[Completion] = []
    turns = conversation.turns
    answers: dict[str, dict[str, int | None]] = {}
    self_reported: dict[str, int] = {}
    moved_on_filled_in = False
    rated_left_out = 0

    def keep(result: QuestionnaireResult) -> int | None:
        for method, count in result.methods.items():
            self_reported[method] = self_reported.get(method, 0) + count
        total = entry_total(result)
        return None if total is None else int(total)

    for key, moments in conversation.questionnaires.items():
        if "before" in moments:
            before, used = administer(llm, instruments()[key], profile, state, 1,
                                      derive_seed(seed, profile.id, key, "before"), mode=self_report)
            answers.setdefault(key, {})["before"] = keep(before)
            completions.extend(used)
    for position, turn in enumerate(turns):
        if not (masked and turn.speaker == "client"):
            heard.append(turn.as_turn())
        ends_supporter_run = turn.speaker == "counselor" and (position + 1 == len(turns)
                                                              or turns[position + 1].speaker == "client")
        if not ends_supporter_run:
            continue
        context = AppraisalContext(profile, 1, state, list(heard), (), derive_seed(seed, profile.id, position, "appraisal"))
        appraisal, used = appraiser.appraise(context)
        completions.extend(used)
        for method, count in appraisal.methods.items():
            methods[method] = methods.get(method, 0) + count
        feedback = turns[position + 1].feedback if position + 1 < len(turns) else None
        filled = bool(appraisal.filled_in_items())  # its worth rests on a number the model did not give
        moved_on_filled_in = moved_on_filled_in or filled
        if feedback is not None and filled:
            rated_left_out += 1
        elif feedback is not None:
            rated.append((trust_change(appraisal, state.resistance, params), feedback))
        state = after_counselor_turn(state, appraisal, params, derive_rng(seed, profile.id, position, "dynamics"))
    # The end-of-session answers: nothing the seeker said after the supporter's last turn.
    last = max(i for i, t in enumerate(heard) if isinstance(t, CounselorTurn))
    until_last = heard[:last + 1]
    rating, used = administer(llm, instruments()[SESSION_RATING], profile, state, 1,
                              derive_seed(seed, profile.id, "session_rating"), mode=self_report, turns=until_last)
    completions.extend(used)
    keep(rating)
    for key, moments in conversation.questionnaires.items():
        if "after" in moments:
            after, used = administer(llm, instruments()[key], profile, state, 1,
                                     derive_seed(seed, profile.id, key, "after"), mode=self_report, turns=until_last)
            answers.setdefault(key, {})["after"] = keep(after)
            completions.extend(used)
    return Replayed(conversation.index, rated, rating, dict(conversation.survey), methods, usage_of(completions),
                    distress_drop=(start.distress - state.distress) / 2.5, questionnaires=answers,
                    seeker_questionnaires=dict(conversation.questionnaires), self_report_methods=self_reported,
                    rated_left_out=rated_left_out, moved_on_filled_in=moved_on_filled_in)
