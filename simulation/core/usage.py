"""Model usage per role: calls, tokens, seconds, and the faults they took (``agents.llm.metering`` counts them).

A usage table maps a role ("counselor", "client", "judge") to its ``RoleUsage``. Sums round each
field to 6 decimals, so a table summed in any grouping writes the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .values import FullyWritten, Number

# retries: extra attempts made (same model, or moving to the fallback);
# fallbacks: answers served by the role's fallback model; reasks: outputs refused and asked again.
FAULT_FIELDS = ("retries", "fallbacks", "reasks")
USAGE_FIELDS = ("calls", "prompt_tokens", "completion_tokens", "seconds", *FAULT_FIELDS)


class RoleUsage(FullyWritten):
    """Model calls of one role."""

    calls: Number = 0
    prompt_tokens: Number = 0
    completion_tokens: Number = 0
    seconds: Number = 0.0
    retries: Number = 0
    fallbacks: Number = 0
    reasks: Number = 0

    def __add__(self, other: "RoleUsage") -> "RoleUsage":
        return RoleUsage(**{name: round(getattr(self, name) + getattr(other, name), 6) for name in USAGE_FIELDS})


UsageTable = dict[str, RoleUsage]
_NONE = RoleUsage(**dict.fromkeys(USAGE_FIELDS, 0))


def add_tables(*tables: Mapping[str, RoleUsage] | None) -> UsageTable:
    """The sum of usage tables, role by role (roles in order of first appearance)."""
    total: UsageTable = {}
    for table in tables:
        for role, usage in (table or {}).items():
            total[role] = total.get(role, _NONE) + usage
    return total


def sum_tables(tables: Iterable[Mapping[str, RoleUsage]]) -> UsageTable:
    return add_tables(*tables)


def table_of(data: Mapping[str, Any] | None) -> UsageTable:
    """A usage table from its plain form (graph state, a record's JSON): ``{role: {field: number}}``."""
    return {role: usage if isinstance(usage, RoleUsage) else RoleUsage.model_validate(usage)
            for role, usage in (data or {}).items()}


def plain_table(table: Mapping[str, RoleUsage]) -> dict[str, dict[str, Any]]:
    """A usage table as plain data, every field written."""
    return {role: usage.model_dump(mode="json") for role, usage in table.items()}


def usage_reducer(left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """LangGraph reducer of a usage table kept as plain data in graph state."""
    return plain_table(add_tables(table_of(left), table_of(right)))
