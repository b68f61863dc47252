"""Runs that mix counselors: trajectory realism per counselor, and the share of outcome variance due to the counselor.

`compare` groups its runs by counselor: the counselor's name and model, as the metric rows record
them, and the counselor options its run set (the manifest's config: MusPsy with ``scaffold: off`` is
another counselor than MusPsy with its scaffold). Runs of one counselor on other seeds pool into one
group, each course keeping its own identity (``run/client``). Every group is scored with the same
reliable change, set from the first measurements of all courses compared, so the groups' shares are
comparable.

**Counselor share of outcome variance.** Who the therapist is explains about 5% of outcome variance
in real care (Baldwin & Imel 2013; ``realism_references``). Here the outcome is each course's change
on an instrument (last minus first measurement, a dropout's last carried forward: intention to
treat), and the share is the intraclass correlation of a one-way random-effects analysis of
variance with the counselor as the grouping factor, ICC(1) = s2_b / (s2_b + MSW), with
s2_b = max(0, (MSB - MSW) / n0) and n0 = (N - sum(n_i^2) / N) / (k - 1) for unequal groups (Shrout &
Fleiss 1979); the multilevel models of the therapist-effects literature reduce to it for one level.
eta squared (SSB / SST, the counselor as a fixed factor) is given beside it. With few counselors,
the estimate is rough: a between-counselor variance from two counselors has one degree of freedom.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..core.metrics import SessionMetrics
from ..core.realism import CounselorGroup, CounselorRealism, VarianceShare
from ..record.run_log import read_manifest
from ..record.schema import MANIFEST, CourseEntry
from .realism_references import COUNSELOR_SHARE
from .reliable_change import INSTRUMENTS, reliable_change
from .trajectories import course_series, trajectory_realism


def counselor_of(rows: Sequence[SessionMetrics], options: Mapping[str, object] | None = None) -> str:
    """A run's counselor as its rows record it (name and counselor model), with the counselor options its run
    set (``counselor_options``, e.g. ``muspsy [scaffold=off] (model)``): other options, another counselor."""
    row = rows[0] if rows else SessionMetrics()
    model = row.models.get("counselor")
    name = str(row.counselor or "unknown")
    if options:
        name += " [" + ", ".join(f"{key}={_option(value)}" for key, value in sorted(options.items())) + "]"
    return f"{name} ({model})" if model else name


def _option(value: object) -> str:
    # YAML reads a bare on/off as true/false: the scaffold switch reads as it was meant either way
    return {True: "on", False: "off"}.get(value, str(value)) if isinstance(value, bool) else str(value)


def variance_share(groups: dict[str, list[float]]) -> VarianceShare | None:
    """ICC(1) and eta squared of ``groups`` (outcome values per counselor); None with fewer than two groups."""
    groups = {name: values for name, values in groups.items() if values}
    k, n = len(groups), sum(len(values) for values in groups.values())
    if k < 2 or n - k < 1:
        return None
    grand = statistics.fmean(value for values in groups.values() for value in values)
    means = {name: statistics.fmean(values) for name, values in groups.items()}
    ssb = sum(len(values) * (means[name] - grand) ** 2 for name, values in groups.items())
    ssw = sum((value - means[name]) ** 2 for name, values in groups.items() for value in values)
    msb, msw = ssb / (k - 1), ssw / (n - k)
    n0 = (n - sum(len(values) ** 2 for values in groups.values()) / n) / (k - 1)
    between = max(0.0, (msb - msw) / n0)
    icc = between / (between + msw) if between + msw > 0 else 0.0
    return VarianceShare(icc=round(icc, 4), eta_squared=round(ssb / (ssb + ssw), 4) if ssb + ssw > 0 else 0.0,
                         counselors=k, courses=n, means={name: round(mean, 4) for name, mean in means.items()},
                         in_range=COUNSELOR_SHARE.holds(icc), reference=COUNSELOR_SHARE)


def _pooled_rows(names: Sequence[str], loaded: Sequence[Sequence[SessionMetrics]]) -> list[SessionMetrics]:
    """Every run's rows, each course named run/client so that runs of one counselor can pool."""
    return [row.model_copy(update={"client_id": f"{name}/{row.client_id}"})
            for name, rows in zip(names, loaded) for row in rows]


def _counselor_options(run_dir: Path) -> dict[str, object]:
    """The counselor options a run set (its manifest's config; a directory of metrics alone: none known)."""
    if not (Path(run_dir) / MANIFEST).is_file():
        return {}
    return dict(read_manifest(Path(run_dir)).config.counselor_options)


def _outcomes(run_dir: Path, name: str) -> dict[str, CourseEntry]:
    """How each course of a run ended (its manifest); a directory of metrics alone records no course ends."""
    if not (Path(run_dir) / MANIFEST).is_file():
        return {}
    manifest = read_manifest(Path(run_dir))
    return {f"{name}/{client}": entry for client, entry in manifest.courses.items()}


def realism_by_counselor(run_dirs: Sequence[Path], names: Sequence[str],
                         loaded: Sequence[Sequence[SessionMetrics]]) -> CounselorRealism:
    """Per counselor (runs pooled), the trajectory realism; over all, the counselor's share of outcome variance."""
    by_counselor: dict[str, list[int]] = defaultdict(list)
    for index, rows in enumerate(loaded):
        by_counselor[counselor_of(rows, _counselor_options(run_dirs[index]))].append(index)
    pooled = _pooled_rows(names, loaded)
    criteria = {name: reliable_change(name, [points[0][1] for points in course_series(pooled, name).values() if points])
                for name in INSTRUMENTS}
    groups, changes = {}, {name: {} for name in INSTRUMENTS}
    for counselor, indices in by_counselor.items():
        rows = _pooled_rows([names[i] for i in indices], [loaded[i] for i in indices])
        outcomes: dict[str, CourseEntry] = {}
        for i in indices:
            outcomes.update(_outcomes(run_dirs[i], names[i]))
        realism = trajectory_realism(rows, outcomes, criteria)
        groups[counselor] = CounselorGroup(runs=[names[i] for i in indices], realism=realism)
        for name in INSTRUMENTS:
            changes[name][counselor] = [course.change for course in realism.instrument(name).by_client.values()]
    return CounselorRealism(counselors=groups,
                            counselor_share={name: variance_share(changes[name]) for name in INSTRUMENTS})
