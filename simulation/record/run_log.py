"""Reading a run directory: ``RunLog``, the one reader every command goes through.

``RunLog.open(path)`` reads the manifest (upgraded to the current schema by
``record.migrate`` and validated) and the session records once; eval, inspect,
report, export, compare, fork and resume read runs through it. Every way a run can
be unreadable is one kind of error, ``InputError``, naming the file and the field
or line:

* no manifest.json: ``RUN: run_dir: not a run directory (no manifest.json)``;
* manifest.json that is not JSON, not an object, of a newer schema, or invalid:
  ``RUN/manifest.json: line 3: not valid JSON (...)``, ``...: config.sessions: ...``;
* sessions.jsonl: a torn last line (a crash in the middle of an append leaves one,
  without its newline) is dropped; any other line that is not JSON or not a valid
  record is an error: ``RUN/sessions.jsonl: line 4: turns.2.speaker: ...``;
* metrics.jsonl (written whole by ``eval``): every line must be a ``SessionMetrics`` row,
  ``metrics`` of numbers or nulls and a ``client_id`` of the profile-id alphabet;
  summary.json a ``CampaignSummary``.

Client ids (session records, manifest courses, metric rows) are checked against the
profile-id pattern when read, before anything builds a path from them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from muspsy_sim.scenarios.loader import load_profile
from muspsy_sim.scenarios.profile import CaseProfile

from ..config import CampaignConfig
from ..core.errors import InputError, from_validation_error
from ..core.metrics import CampaignSummary, SessionMetrics
from .migrate import upgrade_manifest, upgrade_session
from .schema import (
    MANIFEST,
    METRICS,
    SCHEMA_VERSION,
    SESSIONS,
    SUMMARY,
    Manifest,
    SessionRecord,
)


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_bytes())
    except OSError as error:
        raise InputError(file, "", f"unreadable: {error.strerror or error}") from None
    except json.JSONDecodeError as error:
        raise InputError(file, f"line {error.lineno}", f"not valid JSON ({error.msg})") from None
    except ValueError:
        raise InputError(file, "", "not valid JSON (not UTF-8 text)") from None


def _object(file: Path, data: Any, where: str = "(top level)") -> dict:
    if not isinstance(data, dict):
        raise InputError(file, where, "not a JSON object")
    return data


def read_manifest(run_dir: Path) -> Manifest:
    """The manifest of ``run_dir``, upgraded to the current schema and validated."""
    file = Path(run_dir) / MANIFEST
    if not file.is_file():
        raise InputError(run_dir, "run_dir", f"not a run directory (no {MANIFEST})")
    data = _object(file, _read_json(file))
    try:
        data = upgrade_manifest(data)
    except ValueError as error:
        raise InputError(file, "schema_version", str(error)) from None
    try:
        return Manifest.read(data)
    except ValidationError as error:
        raise from_validation_error(file, error) from None


def _session_line(file: Path, number: int, data: Any, version: int) -> SessionRecord:
    data = upgrade_session(_object(file, data, f"line {number}"), version)
    try:
        return SessionRecord.read(data)
    except ValidationError as error:
        problem = from_validation_error(file, error)
        raise InputError(file, f"line {number}: {problem.field}", problem.message) from None


def read_session_records(run_dir: Path, version: int = SCHEMA_VERSION) -> list[SessionRecord]:
    """The session records of ``run_dir`` in file order; a torn last line is dropped."""
    file = Path(run_dir) / SESSIONS
    if not file.is_file():
        return []
    try:
        lines = file.read_bytes().split(b"\n")
    except OSError as error:
        raise InputError(file, "", f"unreadable: {error.strerror or error}") from None
    unterminated = lines.pop()  # b"" when the file ends with a newline, as every complete append does
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise InputError(file, f"line {number}", "not valid JSON (only a torn last line may be)") from None
        records.append(_session_line(file, number, data, version))
    if unterminated.strip():
        try:
            data = json.loads(unterminated)
        except ValueError:
            return records  # the torn tail of an append cut short by a crash
        records.append(_session_line(file, len(lines) + 1, data, version))
    return records


def read_metric_rows(run_dir: Path) -> list[SessionMetrics] | None:
    """The rows of ``run_dir/metrics.jsonl`` (written by ``eval``), or None when the run is not scored."""
    file = Path(run_dir) / METRICS
    if not file.is_file():
        return None
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, ValueError) as error:
        raise InputError(file, "", f"unreadable: {error}") from None
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            raise InputError(file, f"line {number}", "not valid JSON") from None
        _object(file, data, f"line {number}")
        if not isinstance(data.get("metrics"), dict):
            raise InputError(file, f"line {number}: metrics", "missing or not an object")
        try:
            rows.append(SessionMetrics.read(data))
        except ValidationError as error:
            problem = from_validation_error(file, error)
            field, message = problem.field, problem.message
            if field.startswith("metrics."):  # a metric is a number or null (not a member of the union)
                field, message = ".".join(field.split(".")[:2]), "expected a number or null"
            elif field == "client_id":
                message = "not a client id (the profile id alphabet)"
            raise InputError(file, f"line {number}: {field}", message) from None
    return rows


def read_summary(run_dir: Path) -> CampaignSummary | None:
    """``run_dir/summary.json`` (written by ``eval``), or None when the run is not scored."""
    file = Path(run_dir) / SUMMARY
    if not file.is_file():
        return None
    try:
        return CampaignSummary.read(_object(file, _read_json(file)))
    except ValidationError as error:
        raise from_validation_error(file, error) from None


class RunLog:
    """A run directory, read once: its manifest, config and session records (metrics on demand)."""

    def __init__(self, path: Path, manifest: Manifest | None, sessions: list[SessionRecord]):
        self.path = path
        self.manifest = manifest
        # By client, then session; records of one session (a resumed run's duplicates) keep file order.
        self.sessions = sorted(sessions, key=lambda r: r.key)

    @classmethod
    def open(cls, path: str | Path, *, require_manifest: bool = True) -> "RunLog":
        """Read ``path``; without ``require_manifest``, a directory holding only sessions.jsonl reads too."""
        path = Path(path)
        if (path / MANIFEST).is_file() or require_manifest:
            manifest = read_manifest(path)
        elif (path / SESSIONS).is_file():
            manifest = None
        else:
            raise InputError(path, "run_dir", f"not a run directory (no {MANIFEST} or {SESSIONS})")
        version = manifest.schema_version if manifest is not None else SCHEMA_VERSION
        return cls(path, manifest, read_session_records(path, version))

    @property
    def manifest_path(self) -> Path:
        return self.path / MANIFEST

    @property
    def config(self) -> CampaignConfig:
        if self.manifest is None:
            raise InputError(self.path, "run_dir", f"not a run directory (no {MANIFEST})")
        return self.manifest.config

    @property
    def name(self) -> str:
        return self.manifest.name if self.manifest is not None else self.path.name

    def clients(self) -> list[str]:
        """Every client of the run: its manifest's courses and the clients with records, sorted."""
        courses = self.manifest.courses if self.manifest is not None else {}
        return sorted(set(courses) | {record.client_id for record in self.sessions})

    def course(self, client_id: str) -> list[SessionRecord]:
        """One client's session records, by session."""
        return [record for record in self.sessions if record.client_id == client_id]

    def courses(self) -> Iterator[tuple[str, list[SessionRecord]]]:
        """(client id, its session records) for every client with records, by client id."""
        for client_id in sorted({record.client_id for record in self.sessions}):
            yield client_id, self.course(client_id)

    def session(self, client_id: str, session_index: int) -> SessionRecord | None:
        found = [r for r in self.sessions if r.client_id == client_id and r.session_index == session_index]
        return found[-1] if found else None

    @cached_property
    def metrics(self) -> list[SessionMetrics] | None:
        """The rows of metrics.jsonl (read on first use), or None when the run is not scored."""
        return read_metric_rows(self.path)

    @cached_property
    def summary(self) -> CampaignSummary | None:
        """summary.json (read on first use), or None when the run is not scored."""
        return read_summary(self.path)

    def profiles(self) -> dict[str, CaseProfile]:
        """The case profile of every client with records: one kept in the run directory (``profile/``, a
        person's own for a free role-play), else the config's scenario_dir's."""
        directory = Path(self.config.scenario_dir)
        profiles = {}
        for client_id in sorted({record.client_id for record in self.sessions}):
            kept = self.path / "profile" / f"{client_id}.yaml"
            file = kept if kept.is_file() else directory / f"{client_id}.yaml"
            if not file.is_file():
                raise InputError(self.manifest_path, "config.scenario_dir", f"profile of '{client_id}' not found at {file}")
            profiles[client_id] = load_profile(file)
        return profiles

    def resume_config(self, workers: int | None = None) -> CampaignConfig:
        """The recorded config, to resume the run where its directory now is (optionally with other workers)."""
        data = self.config.model_dump(mode="json")
        if workers is not None:
            data["workers"] = workers
        # The run directory is where the manifest is, wherever it was moved to.
        data["output_dir"], data["name"] = str(self.path.parent), self.path.name
        try:
            return CampaignConfig.model_validate(data)
        except ValidationError as error:
            raise from_validation_error(self.manifest_path, error) from None
