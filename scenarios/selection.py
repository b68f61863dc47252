"""Choosing a campaign's clients: by id, by glob, by tag, or a seeded random sample."""

from __future__ import annotations

import fnmatch
import random

from muspsy_sim.simulation.core.errors import InputError

from .profile import CaseProfile

TAG_PREFIX = "tag:"


def select_profiles(
    selectors: list[str],
    library: dict[str, CaseProfile],
    source: str,
    *,
    sample: int | None = None,
    seed: int = 0,
    field: str = "scenarios",
) -> list[CaseProfile]:
    """Profiles matched by ``selectors`` (ids, globs such as ``gad-*``, or ``tag:NAME``), in order, once each.

    With ``sample``, a random subset of that size drawn with ``seed`` (the same seed, the same clients).
    """
    chosen: dict[str, CaseProfile] = {}
    for position, selector in enumerate(selectors):
        if selector.startswith(TAG_PREFIX):
            tag = selector.removeprefix(TAG_PREFIX)
            matched = [p for p in library.values() if tag in p.tags or (tag == "risk" and p.risk_flags)]
        elif any(ch in selector for ch in "*?["):
            matched = [library[i] for i in sorted(fnmatch.filter(library, selector))]
        else:
            matched = [library[selector]] if selector in library else []
        if not matched:
            raise InputError(source, f"{field}.{position}", f"unknown scenario '{selector}' (no profile matches)")
        for profile in matched:
            chosen.setdefault(profile.id, profile)
    profiles = list(chosen.values())
    if sample is not None:
        if sample > len(profiles):
            raise InputError(source, "scenario_sample", f"asks for {sample} of only {len(profiles)} matched profiles")
        profiles = sorted(random.Random(seed).sample(profiles, sample), key=lambda p: p.id)
    return profiles
