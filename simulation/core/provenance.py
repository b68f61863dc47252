"""What made a run, as its records name it: installed package versions, and components by class."""

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


def qualified_name(kind: type | object) -> str:
    """``module:QualifiedName`` of a class (or of an object's class): how run logs name a component,
    and how a plugged-in counselor is named on the command line."""
    cls = kind if isinstance(kind, type) else type(kind)
    return f"{cls.__module__}:{cls.__qualname__}"
