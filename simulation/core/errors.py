"""Input errors that name the file and the field, for a one-line report and exit code 2."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """Bad user input: a config, a profile, a model or a component name."""

    def __init__(self, source: str | Path, field: str, message: str):
        self.source = str(source)
        self.field = field
        self.message = message
        super().__init__(f"{self.source}: {field}: {message}" if field else f"{self.source}: {message}")


def from_validation_error(source: str | Path, error) -> InputError:
    """The first problem of a pydantic ``ValidationError`` as an ``InputError``."""
    problems = error.errors()
    first = problems[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first.get("type") == "extra_forbidden":
        message = "unknown field"
    if len(problems) > 1:
        message += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return InputError(source, field, message)
