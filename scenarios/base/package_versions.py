"""Installed versions of named distributions, for run logs and training configs."""

from __future__ import annotations

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
