"""Two baselines under the MusPsy interface, for ablations.

``no-memory`` starts every session fresh: no memories, no retrieval, no check-in.
``full-history`` puts all earlier transcripts in the prompt instead of memories,
newest kept when they exceed the character budget (a stand-in for the context window).
"""

from __future__ import annotations

from muspsy_sim.simulation.core.turns import format_turns

from .base import SessionContext
from .muspsy import MusPsyCounselor

NONE = "none"


class NoMemoryCounselor(MusPsyCounselor):
    name = "no-memory"
    retrieves = False  # retrieval recall is "not applicable" to it

    def _for_this_session_only(self, context: SessionContext) -> SessionContext:
        return SessionContext(profile=context.profile, session_index=context.session_index, goal=context.goal)

    def plan_goal(self, context, seed):
        return super().plan_goal(self._for_this_session_only(context), seed)

    def goal_prompt(self, context):
        return super().goal_prompt(self._for_this_session_only(context))

    def respond(self, context, turns, stage, seed):
        return super().respond(self._for_this_session_only(context), turns, stage, seed)

    def _last_memory(self, context):
        return NONE

    def _recall(self, context, query):
        return []


class FullHistoryCounselor(MusPsyCounselor):
    name = "full-history"
    retrieves = False  # retrieval recall is "not applicable" to it

    def __init__(self, *args, history_chars: int = 3000, **kwargs):
        super().__init__(*args, **kwargs)
        self.history_chars = history_chars

    def describe(self) -> dict:
        described = super().describe()
        described["options"]["history_chars"] = self.history_chars
        return described

    def _history(self, context: SessionContext) -> str:
        sessions = [
            f"[session {index}]\n{format_turns(turns)}" for index, turns in enumerate(context.transcripts, start=1)
        ]
        text = "\n".join(sessions)
        return text[-self.history_chars:] if text else NONE

    def _memories_for_planning(self, context):
        return self._history(context) if context.transcripts else "none (first session)"

    def _last_memory(self, context):
        return NONE

    def _recall(self, context, query):
        return []

    def respond(self, context, turns, stage, seed):
        # Without memories there is no assignment to check in on by template:
        # the model sees the earlier transcripts and must do it itself.
        context = SessionContext(profile=context.profile, session_index=context.session_index, goal=context.goal,
                                 transcripts=context.transcripts)
        return super().respond(context, turns, stage, seed)

    def counseling_messages(self, context, turns, stage, recalled):
        return super().counseling_messages(context, turns, stage, self._history(context))
