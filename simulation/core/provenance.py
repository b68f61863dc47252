"""What made a run, as its records name it: installed package versions, components by class, and the cores
it could use."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    """``{name: version}`` for each distribution; None for one that is not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def qualified_name(kind: type | object) -> str:
    """``module:QualifiedName`` of a class (or of an object's class): how run logs name a component,
    and how a plugged-in counselor is named on the command line."""
    cls = kind if isinstance(kind, type) else type(kind)
    return f"{cls.__module__}:{cls.__qualname__}"


def available_cores() -> int:
    """Cores this process may run on: its affinity mask (a container's or a scheduler's share), else the
    machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1
