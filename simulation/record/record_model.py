"""The base of the record models (``schema``, ``turns``): how they read and write, and their number type.

The rules they keep are in ``schema``'s docstring.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, WithJsonSchema

from muspsy_sim.scenarios.profile import PROFILE_ID_PATTERN

# An int or a float, kept as it was (a float field would turn 0 into 0.0 and change the bytes written).
Number = Annotated[Union[StrictInt, StrictFloat], WithJsonSchema({"type": "number"})]
# Client ids name profile files and LangGraph threads: the profile id alphabet only.
ClientId = Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]


def not_required(*names: str):
    """A ``json_schema_extra`` hook: ``names`` are left out of ``required`` (the writer omits them at times)."""

    def edit(schema: dict[str, Any], model: type) -> None:
        schema["required"] = [name for name in schema.get("required", []) if name not in names]

    return edit


class RecordModel(BaseModel):
    """Base of the record models: unknown keys kept, values written back as they were read."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: the keys that were set, in field order, then unknown keys."""
        return self.model_dump(exclude_unset=True, by_alias=True)


class FullyWritten(RecordModel):
    """A part of a session record the current writer writes whole (defaults only serve older records)."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)
