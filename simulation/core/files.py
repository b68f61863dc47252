"""Reading and writing the project's files safely.

* Writes are crash-safe: a temporary file in the same folder, fsync, then rename over the target. A
  reader (or a run resumed after kill -9) sees either the old file or the new one, never half of one.
* YAML input is read with a safe loader only, size-capped, UTF-8 or a clear error: every problem
  becomes an ``InputError`` naming the file and, where one can be located, the field (the key path
  at the offending line), so bad input always yields one line and exit code 2, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError

# --- writing --------------------------------------------------------------------------------------


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(staging, 0o644)
        os.replace(staging, path)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def write_jsonl_atomic(path: Path, rows: Iterable[dict]) -> None:
    write_text_atomic(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


# --- reading YAML ---------------------------------------------------------------------------------

MAX_INPUT_BYTES = 1_000_000
# Aliases share nodes when loaded, but everything downstream (validation, JSON
# dumps) expands them: a "billion laughs" anchor bomb is a few lines of YAML.
MAX_EXPANDED_NODES = 100_000
MAX_NESTING = 50
WHOLE_FILE = "(file)"
TOP_LEVEL = "(top level)"
_KEY_LINE = re.compile(r"^( *)(?:- +)?([^\s#:\-\[\]{},&*!|>'\"%@`][^#:]*?):(?:\s|$)")


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise InputError(path, WHOLE_FILE, f"cannot read file ({error.strerror})") from None
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(path, WHOLE_FILE, f"file is larger than {MAX_INPUT_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n")
        readable = raw.decode("utf-8", errors="replace")
        raise InputError(path, field_at_line(readable, line),
                         f"not UTF-8 text (byte {error.start}, line {line + 1})") from None
    try:
        _check_nesting(text)
        data = yaml.load(text, Loader=_safe_loader())  # noqa: S506 - a SafeLoader subclass
    except _TooDeep as error:
        raise InputError(path, field_at_line(text, error.line),
                         f"nested deeper than {MAX_NESTING} levels (line {error.line + 1})") from None
    except yaml.YAMLError as error:
        # The context mark points at the construct that went wrong (e.g. an unclosed list),
        # the problem mark at where the parser noticed.
        mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or "invalid YAML"
        if mark is None:
            raise InputError(path, TOP_LEVEL, problem) from None
        raise InputError(path, field_at_line(text, mark.line), f"{problem} (line {mark.line + 1})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(path, TOP_LEVEL, "expected a mapping at the top level")
    _check_expanded_size(path, data)
    return data


def field_at_line(text: str, line: int) -> str:
    """The dotted key path in effect at 0-based ``line`` of block-style YAML (best effort)."""
    stack: list[tuple[int, str]] = []
    for current in text.splitlines()[: line + 1]:
        match = _KEY_LINE.match(current)
        if not match:
            continue
        indent = len(match.group(1))
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, match.group(2).strip()))
    return ".".join(key for _, key in stack) or TOP_LEVEL


class _TooDeep(Exception):
    def __init__(self, line: int):
        self.line = line


def _check_nesting(text: str) -> None:
    """Refuse deep nesting before composing: PyYAML's composer recurses and would overflow the stack."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_NESTING:
                raise _TooDeep(event.start_mark.line)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _safe_loader():
    """PyYAML's SafeLoader (no python tags), refusing duplicate keys instead of keeping the last."""
    class UniqueKeySafeLoader(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (str, int, float, bool)):
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None, f"duplicate key '{key}'", key_node.start_mark)
                    seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return UniqueKeySafeLoader


def _check_expanded_size(path: Path, data: Any) -> None:
    """Refuse structures that expand (through aliases) past MAX_EXPANDED_NODES, naming the field."""
    budget = MAX_EXPANDED_NODES
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, where = stack.pop()
        budget -= 1
        if budget < 0:
            field = ".".join(where.split(".")[:2]) or TOP_LEVEL
            raise InputError(path, field, f"expands to more than {MAX_EXPANDED_NODES} values (YAML aliases?)")
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else str(k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}.{i}" if where else str(i)) for i, v in enumerate(value))
