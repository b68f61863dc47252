"""How the kernel's values read and write: their base model, their number type, and ids.

Every value the layers pass each other (a turn, a session memory, a usage table, a
questionnaire result, an evaluation row) is a ``Value``: a pydantic model that

* keeps unknown keys (``extra="allow"``): a value written by an older or newer version
  reads, and writes back, with everything it had;
* writes (``to_dict()``) the keys that were given, in field order, then unknown keys:
  a value read and written again is the same JSON, byte for byte;
* keeps each number's JSON type (``Number`` is an int or a float, never converted).

``FullyWritten`` values are those the current writer always writes whole: one made in code
writes every field, defaults included, while one read back from a file
(``model_validate(data, context=AS_READ)``, as the run's readers do) writes back what it had. Fields older writers lacked have defaults so old
records still read, and the printed JSON Schema (serialization mode) lists them as required. The
exception are the fields a class names in ``WRITTEN_WHEN_GIVEN``: what only some values have (a
person's turn, a session a person played), written only when they hold something and not required.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Self, Union

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, WithJsonSchema

# An int or a float, kept as it was (a float field would turn 0 into 0.0 and change the bytes written).
Number = Annotated[Union[StrictInt, StrictFloat], WithJsonSchema({"type": "number"})]

# Client (profile) ids become file names, LangGraph thread ids and Chroma metadata, so they must not
# be able to name anything outside the run directory.
PROFILE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
ClientId = Annotated[str, Field(pattern=PROFILE_ID_PATTERN)]


# The validation context of data read back from a file: its values write back what they had.
AS_READ = {"as_read": True}


def not_required(*names: str):
    """A ``json_schema_extra`` hook: ``names`` are left out of ``required`` (the writer omits them at times)."""

    def edit(schema: dict[str, Any], model: type) -> None:
        schema["required"] = [name for name in schema.get("required", []) if name not in names]

    return edit


class Value(BaseModel):
    """Base of the kernel's values: unknown keys kept, values written back as they were read."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    @classmethod
    def read(cls, data: Any) -> Self:
        """The value of ``data`` read back from a file: written again, it is the same JSON."""
        return cls.model_validate(data, context=AS_READ)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: the keys that were set, in field order, then unknown keys."""
        return self.model_dump(exclude_unset=True, by_alias=True)


def _when_given_not_required(schema: dict[str, Any], model: type) -> None:
    """The JSON Schema hook of ``FullyWritten``: its ``WRITTEN_WHEN_GIVEN`` fields are not required."""
    optional = getattr(model, "WRITTEN_WHEN_GIVEN", frozenset())
    if optional and "required" in schema:
        schema["required"] = [name for name in schema["required"] if name not in optional]


def _holds_something(value: Any) -> bool:
    return value is not None and not (isinstance(value, (list, dict, str)) and not value)


class FullyWritten(Value):
    """A value the current writer writes whole (defaults only serve older records).

    ``WRITTEN_WHEN_GIVEN`` names the fields it writes only when they hold something (not None, not
    empty): what only some of its values have, so the others are written as before those fields existed.
    """

    model_config = ConfigDict(json_schema_serialization_defaults_required=True,
                              json_schema_extra=_when_given_not_required)
    WRITTEN_WHEN_GIVEN: ClassVar[frozenset[str]] = frozenset()

    def model_post_init(self, context: Any, /) -> None:
        # Made in code (or validated without AS_READ): written whole. Read back with AS_READ: as it was.
        if context is not AS_READ:
            optional = self.WRITTEN_WHEN_GIVEN
            self.__pydantic_fields_set__.update(type(self).model_fields)
            self.__pydantic_fields_set__.difference_update(
                name for name in optional if not _holds_something(getattr(self, name)))
