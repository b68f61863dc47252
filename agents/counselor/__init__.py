"""Counselors: the MusPsy counselor, its baselines, and the interface for your own."""

from muspsy_sim.agents.counselor.base import (
    Counselor,
    CounselorTurn,
    ExtractedMemory,
    PlannedGoal,
    SessionContext,
)
from muspsy_sim.agents.counselor.registry import (
    BUILTIN_COUNSELORS,
    UnknownCounselor,
    build_counselor,
    resolve_counselor_class,
)
from muspsy_sim.agents.counselor.session_memory import SessionMemory

__all__ = [
    "BUILTIN_COUNSELORS",
    "Counselor",
    "CounselorTurn",
    "ExtractedMemory",
    "PlannedGoal",
    "SessionContext",
    "SessionMemory",
    "UnknownCounselor",
    "build_counselor",
    "resolve_counselor_class",
]
