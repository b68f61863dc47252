"""Counselors: the MusPsy counselor, its baselines, and the interface for your own."""

from .base import (
    Counselor,
    CounselorReply,
    ExtractedMemory,
    PlannedGoal,
    SessionContext,
)
from .registry import (
    BUILTIN_COUNSELORS,
    UnknownCounselor,
    build_counselor,
    resolve_counselor_class,
)

__all__ = [
    "BUILTIN_COUNSELORS",
    "Counselor",
    "CounselorReply",
    "ExtractedMemory",
    "PlannedGoal",
    "SessionContext",
    "UnknownCounselor",
    "build_counselor",
    "resolve_counselor_class",
]
