"""Reading YAML input safely: safe loader only, size-capped, UTF-8 or a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from simulation.errors import InputError

MAX_INPUT_BYTES = 1_000_000


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    import yaml

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(path, "", f"cannot read file ({error.strerror})") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(path, "", f"file is larger than {MAX_INPUT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(path, "", f"not UTF-8 text (byte {error.start})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise InputError(path, "", f"{problem}{where}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, "", "expected a mapping at the top level")
    return data
