"""What the graphs carry: their state (TypedDicts with reducers), their runtime context, and the one seam
where plain state becomes the kernel's typed values.

Graph state holds plain JSON-able data, so LangGraph's strict checkpoint serializer stores it and an
old checkpoint resumes; every node reads it through a ``StateView`` (typed values, each converted on
first use) and writes its partial update from typed values (``to_dict()``, ``plain_table``). Nothing
else in the engine reads a state key as a dict.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Annotated, Any, Protocol, TypedDict

from muspsy_sim.agents.client.state import ClientState
from muspsy_sim.agents.client.traits import draw_traits
from muspsy_sim.agents.counselor.base import SessionContext
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import COURSE_DROPOUT, ClientTraits, Dropout, SessionMemory, Week
from ..core.interruptions import CampaignStop
from ..core.questionnaires import Questionnaires
from ..core.turns import Turn, TurnRating, turns_of
from ..core.usage import UsageTable, table_of, usage_reducer
from ..seeding import derive_rng

# --- state ----------------------------------------------------------------------------------------


class SessionInput(TypedDict):
    profile: dict
    session_index: int
    goal: str
    client_state: dict
    week: dict | None
    memories: list[dict]
    transcripts: list[list[dict]]
    turns: list[dict]
    usage: dict


class SessionOutput(TypedDict):
    turns: list[dict]
    client_state: dict
    ended_by: str | None
    usage: dict
    turn_ratings: list[dict]  # written only when a person plays the client


class SessionState(TypedDict, total=False):
    profile: dict
    session_index: int
    goal: str
    client_state: dict
    week: dict | None
    memories: list[dict]
    transcripts: list[list[dict]]
    turns: Annotated[list[dict], operator.add]
    ended_by: str | None
    usage: Annotated[dict, usage_reducer]
    turn_ratings: Annotated[list[dict], operator.add]  # a person's ratings of the counselor turns


class CourseState(TypedDict, total=False):
    profile: dict
    session_index: int  # the session being run, 1-based
    goal: str
    goal_source: str
    client_state: dict
    client_state_start: dict
    week: dict | None  # what happened between the previous session and this one
    turns: list[dict]  # this session's turns (replaced each session)
    turn_ratings: list[dict]  # a person's ratings of this session's counselor turns (replaced each session)
    ended_by: str | None
    usage: dict  # this session's usage by role
    questionnaires: dict  # this session's self-reports, by instrument
    memory: dict  # this session's extracted memory
    memories: Annotated[list[dict], operator.add]  # one per finished session
    transcripts: Annotated[list[list[dict]], operator.add]
    # Set when the client does not come back after a week (a dropout): {"ended_by": "dropout", after_session,
    # reason, probability, factors}; the course ends there.
    course_end: dict | None


# --- the seam -------------------------------------------------------------------------------------


class StateView:
    """A session or course graph's plain state as the kernel's typed values, each converted on first use."""

    def __init__(self, state: Mapping[str, Any]):
        self.state = state

    @cached_property
    def profile(self) -> CaseProfile:
        return CaseProfile.model_validate(self.state["profile"])

    @property
    def session_index(self) -> int:
        return self.state["session_index"]

    @property
    def goal(self) -> str:
        return self.state.get("goal", "")

    @property
    def ended_by(self) -> str | None:
        return self.state.get("ended_by")

    @cached_property
    def client_state(self) -> ClientState:
        return ClientState.from_state(self.state["client_state"])

    @cached_property
    def client_state_start(self) -> ClientState:
        """The client's state when this session began (course graph, after ``plan``)."""
        return ClientState.from_state(self.state["client_state_start"])

    @property
    def goal_source(self) -> str | None:
        return self.state.get("goal_source")

    @cached_property
    def week(self) -> Week | None:
        week = self.state.get("week")
        return None if week is None else Week.model_validate(week)

    @cached_property
    def turns(self) -> tuple[Turn, ...]:
        """This session's turns so far."""
        return tuple(turns_of(self.state.get("turns") or []))

    @cached_property
    def turn_ratings(self) -> tuple[TurnRating, ...]:
        """A person's ratings of this session's counselor turns so far (none when the client is simulated)."""
        return tuple(TurnRating.model_validate(rating) for rating in self.state.get("turn_ratings") or [])

    @cached_property
    def dropout(self) -> Dropout | None:
        """Why the client did not come back, when the course ended by dropout (course graph, after ``evolve``)."""
        end = self.state.get("course_end")
        if not end or end.get("ended_by") != COURSE_DROPOUT:
            return None
        return Dropout.model_validate({key: value for key, value in end.items() if key != "ended_by"})

    @property
    def sessions_done(self) -> int:
        """How many sessions the course has finished (one memory each)."""
        return len(self.state.get("memories") or [])

    def __contains__(self, key: str) -> bool:
        """Whether the state holds ``key`` (a course not started yet holds nothing)."""
        return self.state.get(key) is not None

    @cached_property
    def memories(self) -> tuple[SessionMemory, ...]:
        """The counselor's memories of the earlier sessions, oldest first."""
        return tuple(SessionMemory.model_validate(memory) for memory in self.state.get("memories", []))

    @cached_property
    def transcripts(self) -> tuple[tuple[Turn, ...], ...]:
        """The earlier sessions' turns, oldest first."""
        return tuple(tuple(turns_of(transcript)) for transcript in self.state.get("transcripts", []))

    @cached_property
    def memory(self) -> SessionMemory | None:
        """This session's extracted memory (course graph, after ``memorize``)."""
        memory = self.state.get("memory")
        return None if memory is None else SessionMemory.model_validate(memory)

    @cached_property
    def questionnaires(self) -> Questionnaires:
        """This session's self-reports so far (course graph)."""
        return Questionnaires.model_validate(self.state.get("questionnaires") or {})

    @cached_property
    def usage(self) -> UsageTable:
        return table_of(self.state.get("usage"))

    def counselor_context(self) -> SessionContext:
        """What the counselor may know of this session and the earlier ones."""
        return SessionContext(profile=self.profile, session_index=self.session_index, goal=self.goal,
                              memories=self.memories, transcripts=self.transcripts)


# --- the runtime context ----------------------------------------------------------------------------


class ProgressEvents(Protocol):
    """What a course tells a campaign's display. ``course_ended``: the course is over after ``sessions_held``
    sessions, every planned one or fewer (the client dropped out); a course resumed after its end may say it again."""

    def session_started(self, client_id: str, session_index: int) -> None: ...
    def turn_done(self, client_id: str) -> None: ...
    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None: ...
    def course_ended(self, client_id: str, sessions_held: int) -> None: ...


class NoProgress:
    def session_started(self, client_id: str, session_index: int) -> None:
        pass

    def turn_done(self, client_id: str) -> None:
        pass

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        pass

    def course_ended(self, client_id: str, sessions_held: int) -> None:
        pass


@dataclass(frozen=True)
class RunContext:
    """Per-run settings handed to graph nodes through LangGraph's runtime context (never in state)."""

    campaign: str
    seed: int
    sessions: int
    max_turns: int
    models: dict[str, str] = field(default_factory=dict)
    progress: ProgressEvents = field(default_factory=NoProgress)
    stop: CampaignStop = field(default_factory=CampaignStop)  # checked before each counselor turn


def campaign_traits(params, seed: int, profile: CaseProfile) -> ClientTraits | None:
    """The traits a campaign of ``seed`` draws for the simulated client of ``profile`` (its pinned traits kept):
    one seeded generator per trait, so the course graph and a replay of the profile draw the same. None under
    the legacy dynamics (``params``: the client's ``DynamicsParams``)."""
    if params.legacy:
        return None
    return draw_traits(params, lambda name: derive_rng(seed, profile.id, "trait", name), profile.traits)
