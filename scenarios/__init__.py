"""Case profiles: the clients a campaign simulates."""

from .loader import (
    LIBRARY_DIR,
    find_profiles,
    load_library,
    load_profile,
    validate_paths,
)
from .profile import CaseProfile, InitialState, PrivateFact, SessionPlan

__all__ = [
    "LIBRARY_DIR",
    "CaseProfile",
    "InitialState",
    "PrivateFact",
    "SessionPlan",
    "find_profiles",
    "load_library",
    "load_profile",
    "validate_paths",
]
