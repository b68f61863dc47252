"""Counts over a run's records that its manifest and summary report (faults per role)."""

from __future__ import annotations


def fault_counts(usage: dict[str, dict], courses: dict[str, dict]) -> dict[str, dict[str, int]]:
    """Retries, fallbacks and re-asks per role (recorded sessions), and failed steps per role (failed courses).

    Takes plain data (the manifest's ``usage`` and ``courses``), as the campaign summary has it.
    """
    counts: dict[str, dict[str, int]] = {}
    for role, fields in usage.items():
        counts[role] = {name: int(fields.get(name, 0)) for name in ("retries", "fallbacks", "reasks")}
        counts[role]["failures"] = 0
    for course in courses.values():
        failed = course.get("failed_step") if course.get("status") == "failed" else None
        if failed:
            role = counts.setdefault(failed["role"], {"retries": 0, "fallbacks": 0, "reasks": 0, "failures": 0})
            role["failures"] += 1
    return counts
