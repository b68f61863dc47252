"""Upgrading run records written by earlier versions to the current schema (``schema.SCHEMA_VERSION``).

Version 0 is every run written before the record schema existed: its manifest has
no ``schema_version``. Its session lines already have the current shape (the
writer's bytes did not change when the schema came; fields that even older
writers lacked read as their defaults), and its manifest differs in two ways:

* no ``schema_version``;
* component classes named by their import path before the project installed under
  the ``muspsy_sim`` namespace (``agents.counselor.muspsy:MusPsyCounselor``).

Each step takes plain JSON data of version N and returns version N + 1; the reader
(``run_log``) applies them in order before validating. A run written by a newer
version than this one is refused, not guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .schema import SCHEMA_VERSION

# The card's top-level folders, which installed as top-level packages before version 1.
_CARD_PACKAGES = ("agents", "memory", "scenarios", "simulation", "bench")
NAMESPACE = "muspsy_sim"


class NewerSchema(ValueError):
    """A record written by a newer muspsy-sim than this one."""


def _namespaced(class_path: Any) -> Any:
    if isinstance(class_path, str) and class_path.split(".", 1)[0].split(":", 1)[0] in _CARD_PACKAGES:
        return f"{NAMESPACE}.{class_path}"
    return class_path


def _manifest_0_to_1(data: dict[str, Any]) -> dict[str, Any]:
    components = data.get("components")
    if isinstance(components, dict):
        components = {
            name: {**part, "class": _namespaced(part["class"])} if isinstance(part, dict) and "class" in part else part
            for name, part in components.items()
        }
        data = {**data, "components": components}
    return {"schema_version": 1, **{k: v for k, v in data.items() if k != "schema_version"}}


MANIFEST_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _manifest_0_to_1}
# Session lines have kept their shape since version 0: no step yet. A later change adds one here.
SESSION_STEPS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def manifest_version(data: dict[str, Any]) -> int:
    version = data.get("schema_version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ValueError(f"not a schema version: {version!r}")
    if version > SCHEMA_VERSION:
        raise NewerSchema(f"written by a newer muspsy-sim (schema version {version}; this one reads up to "
                          f"{SCHEMA_VERSION})")
    return version


def upgrade_manifest(data: dict[str, Any]) -> dict[str, Any]:
    """Manifest data of any known version, as the current version."""
    for version in range(manifest_version(data), SCHEMA_VERSION):
        data = MANIFEST_STEPS[version](data)
    return data


def upgrade_session(data: dict[str, Any], version: int) -> dict[str, Any]:
    """A session line written under manifest schema ``version``, as the current version."""
    for step in range(version, SCHEMA_VERSION):
        if step in SESSION_STEPS:
            data = SESSION_STEPS[step](data)
    return data
