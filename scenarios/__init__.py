"""Case profiles: the clients a campaign simulates."""

from muspsy_sim.scenarios.loader import (
    LIBRARY_DIR,
    find_profiles,
    load_library,
    load_profile,
    validate_paths,
)
from muspsy_sim.scenarios.profile import CaseProfile, InitialState, PrivateFact, SessionPlan

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
