"""The simulated client: role-plays its case profile, conditioned on its state."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path

from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.core.course import Week
from muspsy_sim.simulation.core.questionnaires import QuestionnaireResult
from muspsy_sim.simulation.core.turns import CounselorTurn, Turn

from ..llm import Completion, LanguageModel, Sampling, complete_checked, words_problem
from ..prompting import clean_utterance, render
from .appraisal import AppraisalContext, build_appraiser
from .base import ClientReply
from .dynamics import DynamicsParams, after_counselor_turn, wants_to_leave
from .questionnaires import administer, instruments
from .risk_disclosure import disclosure_sentence, ensure_disclosed, risk_fact_due, risk_fact_indices
from .state import ClientState

PROMPTS = Path(__file__).resolve().parent / "prompts"
_GOODBYE = re.compile(r"\b(goodbye|bye|i have to go|i need to go|i'm leaving|i am leaving)\b", re.IGNORECASE)


def _stance(state: ClientState) -> str:
    """How the state shows in the client's words (docs/client_state.md, "Stance")."""
    traits = []
    if state.trust < 3:
        traits.append("You are guarded: say little and keep private things to yourself.")
    if state.resistance > 0.5:
        traits.append("You doubt advice and push back (\"yes, but...\"), changing the subject when pressed.")
    if not traits:
        traits.append("You are willing to talk openly." if state.openness > 0.6 else "You answer honestly but briefly.")
    return " ".join(traits)


class SimulatedClient:
    """Stateless agent: the state lives in the graph, so it can be checkpointed."""

    def __init__(self, llm: LanguageModel, sampling: Sampling, params: DynamicsParams = DynamicsParams(), *,
                 appraisal: str = "rules", self_report: str = "model"):
        self.llm = llm
        self.sampling = sampling
        self.params = params
        self.appraiser = build_appraiser(appraisal, llm, legacy_cues=params.legacy)
        self.self_report = self_report

    def reply(
        self,
        profile: CaseProfile,
        session_index: int,
        state: ClientState,
        turns: Sequence[Turn],
        week: Week | None,
        rng: random.Random,
        seed: int,
        earlier: Sequence[Sequence[Turn]] = (),
    ) -> ClientReply:
        appraisal, completions = None, []
        if turns and isinstance(turns[-1], CounselorTurn):
            context = AppraisalContext(profile, session_index, state, turns, earlier, seed)
            appraisal, completions = self.appraiser.appraise(context)
            state = after_counselor_turn(state, appraisal, self.params, rng)
        due = risk_fact_due(profile, session_index, state.disclosed)
        fact = due if due is not None else self._fact_to_disclose(profile, state)
        messages = self._messages(profile, session_index, state, turns, week, fact)
        spoken = complete_checked(self.llm, messages, Sampling(**{**self.sampling.__dict__, "seed": seed}),
                                  step="turn", check=lambda reply: words_problem(clean_utterance(reply)))
        completions = [*completions, *spoken]
        text = clean_utterance(spoken[-1].text)
        risk = fact is not None and fact in risk_fact_indices(profile)
        added = None
        if risk:
            text, added = ensure_disclosed(text, disclosure_sentence(profile, fact))
        if fact is not None:
            state = state.model_copy(update={"disclosed": [*state.disclosed, fact]})
        ends = wants_to_leave(state, self.params) or bool(_GOODBYE.search(text))
        return ClientReply(text, state, appraisal, fact, ends, completions, risk, added=added)

    def answer_questionnaires(self, profile: CaseProfile, session_index: int, state: ClientState,
                              keys: tuple[str, ...], seed: int, turns: Sequence[Turn] = (),
                              week: Week | None = None) -> tuple[dict[str, QuestionnaireResult], list[Completion]]:
        """The client's own answers to the named instruments (see agents.client.questionnaires)."""
        results, completions = {}, []
        for key in keys:
            results[key], used = administer(self.llm, instruments()[key], profile, state, session_index, seed,
                                            mode=self.self_report, turns=turns, week=week)
            completions.extend(used)
        return results, completions

    def _fact_to_disclose(self, profile: CaseProfile, state: ClientState) -> int | None:
        """The least sensitive private fact not yet shared that trust now allows, if any."""
        ready = [
            (fact.trust_threshold, index)
            for index, fact in enumerate(profile.private_facts)
            if index not in state.disclosed and state.trust >= fact.trust_threshold
        ]
        return min(ready)[1] if ready else None

    def _messages(self, profile, session_index, state, turns, week, fact) -> list[dict]:
        plan = profile.plan_for(session_index)
        events = list(plan.life_events)
        if week is not None:
            events += [f"This week you {event}." for event in week.random_events]
        if week is not None and week.homework_done is not None:
            events.append("You did the homework." if week.homework_done else "You did not do the homework.")
        shared = disclosure_sentence(profile, fact) if fact in risk_fact_indices(profile) else (
            profile.private_facts[fact].text if fact is not None else "")
        disclosure = f"You feel safe enough to share: {shared}" if shared else ""
        system = render(
            PROMPTS / "client_turn.txt",
            pseudonym=profile.pseudonym,
            age=profile.age,
            occupation=profile.occupation,
            session_index=session_index,
            presenting_problem=profile.presenting_problem,
            speaking_style=profile.speaking_style,
            emotional_state=plan.emotional_state,
            cognitive_state=plan.cognitive_state,
            events=" ".join(events) or "nothing new.",
            disclosure=disclosure,
            stance=_stance(state) + f" Distress {state.distress:.0f}/10, trust in the counselor {state.trust:.0f}/10.",
        )
        system = re.sub(r"\n{2,}", "\n", system)
        # The client sees the counselor as the other party ("user").
        history = [
            {"role": "user" if isinstance(t, CounselorTurn) else "assistant", "content": t.text} for t in turns
        ]
        return [{"role": "system", "content": system}, *history]
