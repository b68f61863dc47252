"""Graph states: TypedDicts with reducers, shared by the session and course graphs."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from muspsy_sim.agents.llm import add_usage


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
    usage: Annotated[dict, add_usage]


class CourseState(TypedDict, total=False):
    profile: dict
    session_index: int  # the session being run, 1-based
    goal: str
    goal_source: str
    client_state: dict
    client_state_start: dict
    week: dict | None  # what happened between the previous session and this one
    turns: list[dict]  # this session's turns (replaced each session)
    ended_by: str | None
    usage: dict  # this session's usage by role
    questionnaires: dict  # this session's self-reports, by instrument
    memory: dict  # this session's extracted memory
    memories: Annotated[list[dict], operator.add]  # one per finished session
    transcripts: Annotated[list[list[dict]], operator.add]
    course_end: dict | None  # set when the course ends before its last session: {"ended_by": "dropout", ...}
