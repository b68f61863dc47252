"""Finding MusPsy files, importing each client, writing profiles and dialogues atomically."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from muspsy_sim.simulation.core.errors import InputError, from_validation_error
from muspsy_sim.simulation.core.files import write_text_atomic

from ..profile import CaseProfile
from . import dialogues, mapping, memories
from .textutil import Log, decode

MAX_FILE_BYTES = 20_000_000
_NAME = re.compile(r"^(memories|memory|dialogues|dialogue)_0*(\d{1,40})\.txt$", re.IGNORECASE)
_DOCS = re.compile(r"^(?:licen[cs]e|copying|readme|source|notice|changelog)\b|\.md$", re.IGNORECASE)


@dataclass
class FileReport:
    """What happened to one input file."""

    path: str
    status: str  # "imported" | "skipped" | "partial"
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    profiles: list[str] = field(default_factory=list)  # ids written, in client order
    files: list[FileReport] = field(default_factory=list)


def format_report(report: ImportReport) -> list[str]:
    """One line per file: ``path: status — note; note``."""
    return [f"{f.path}: {f.status}" + (f" — {'; '.join(f.notes)}" if f.notes else "") for f in report.files]


def import_muspsy(source_dir: Path, out_dir: Path) -> ImportReport:
    """Import every MusPsy client under ``source_dir`` into ``out_dir`` (see the package docs).

    Raises ``simulation.core.errors.InputError`` only when ``source_dir`` is not a folder or
    ``out_dir`` cannot be created; every per-file problem goes into the report instead.
    """
    source_dir, out_dir = Path(source_dir), Path(out_dir)
    if not source_dir.is_dir():
        raise InputError(source_dir, "", "not a directory")
    clients, report = _discover(source_dir)
    if not clients:
        if not report.files:
            report.files.append(FileReport(str(source_dir), "skipped", [
                "no memories_N.txt or dialogues_N.txt files here or in memories/ and dialogues/"]))
        return report
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(out_dir, "", f"cannot create the output folder ({error.strerror})") from None
    for number in sorted(clients, key=int):
        report.files.extend(_import_client(number, clients[number], source_dir, out_dir, report.profiles))
    return report


def _discover(source: Path) -> tuple[dict[str, dict[str, Path]], ImportReport]:
    report = ImportReport()
    clients: dict[str, dict[str, Path]] = {}
    subfolders = [source / name for name in ("memories", "dialogues") if (source / name).is_dir()]
    for folder in [*subfolders, source]:
        try:
            entries = sorted(folder.iterdir())
        except OSError as error:
            report.files.append(FileReport(str(folder), "skipped", [f"cannot list folder ({error.strerror})"]))
            continue
        for path in entries:
            if path.name.startswith(".") or not path.is_file():
                continue
            match = _NAME.match(path.name)
            if match:
                kind = "memories" if match[1].lower().startswith("memor") else "dialogues"
                slot = clients.setdefault(str(int(match[2])), {})
                if kind in slot:
                    report.files.append(FileReport(str(path), "skipped", [
                        f"another {kind} file for client {int(match[2])} was found first ({slot[kind]})"]))
                else:
                    slot[kind] = path
            elif folder == source and (subfolders or _DOCS.search(path.name)):
                continue  # LICENSE, SOURCE.md and the like beside the data folders
            else:
                report.files.append(FileReport(str(path), "skipped", [
                    "unrecognised file name (expected memories_N.txt or dialogues_N.txt)"]))
    return clients, report


def _import_client(number: str, files: dict[str, Path], source: Path, out: Path, written: list[str]) -> list[FileReport]:
    memory_path, dialogue_path = files.get("memories"), files.get("dialogues")
    profile_id = f"muspsy-{number}"
    if memory_path is None:
        return [FileReport(str(dialogue_path), "skipped", [
            f"no memories file (memories_{number}.txt) for this client; nothing to import"])]

    dialogue_log, memory_log = Log(), Log()
    sessions = None
    if dialogue_path is not None:
        try:
            sessions = _read_dialogues(dialogue_path, dialogue_log)
        except Exception as error:  # noqa: BLE001 - one bad file must not stop the import
            dialogue_log.notes.append(f"unexpected error: {type(error).__name__}: {error}")
    else:
        memory_log.fix(f"no dialogues file (dialogues_{number}.txt)")

    data = None
    try:
        data = _read_memories(memory_path, number, memory_log, dialogues.greeting_names(sessions or []))
        if data is not None:
            problem = _write_profile(out / f"{profile_id}.yaml", data)
            if problem:
                memory_log.notes.append(problem)
                data = None
            else:
                written.append(profile_id)
    except Exception as error:  # noqa: BLE001
        data = None
        memory_log.notes.append(f"unexpected error: {type(error).__name__}: {error}")
    reports = [FileReport(str(memory_path), _status(data is not None, memory_log), memory_log.notes)]
    if dialogue_path is None:
        return reports

    if data is None:
        dialogue_log.notes.insert(0, "not written: the memories file was skipped, so there is no profile to attach it to")
        sessions = None
    elif sessions is not None:
        planned = len(data["course_plan"])
        if len(sessions) != planned:
            dialogue_log.fix(f"{len(sessions)} dialogue session{'s' if len(sessions) != 1 else ''} "
                             f"but {planned} memory session{'s' if planned != 1 else ''}")
        try:
            source_name = dialogue_path.relative_to(source).as_posix()
            payload = dialogues.to_json(sessions, profile_id, source_name)
            write_text_atomic(out / f"{profile_id}.dialogues.json", json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
        except Exception as error:  # noqa: BLE001
            dialogue_log.notes.append(f"not written: {type(error).__name__}: {error}")
            sessions = None
    reports.append(FileReport(str(dialogue_path), _status(sessions is not None, dialogue_log), dialogue_log.notes))
    return reports


def _status(written: bool, log: Log) -> str:
    if not written:
        return "skipped"
    return "partial" if log.repaired else "imported"


def _read_bytes(path: Path, log: Log) -> bytes | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            log.fix(f"file is larger than {MAX_FILE_BYTES} bytes")
            return None
        raw = path.read_bytes()
    except OSError as error:
        log.fix(f"cannot read file ({error.strerror})")
        return None
    if not raw.strip():
        log.fix("empty file")
        return None
    return raw


def _read_memories(path: Path, number: str, log: Log, greeted: list[str]) -> dict | None:
    raw = _read_bytes(path, log)
    if raw is None:
        return None
    text = decode(raw, log)
    parsed = memories.parse(text)
    if not parsed.blocks:
        garbled = text.count("\ufffd") > len(text) / 20
        log.fix("no 'The Nth Counseling' session headers found" + (" (the content looks binary or garbled)" if garbled else ""))
        return None
    blocks = memories.select(parsed, log)
    if not blocks:
        log.fix("no usable session blocks")
        return None
    return mapping.build(number, blocks, log, greeted)


def _read_dialogues(path: Path, log: Log) -> list | None:
    raw = _read_bytes(path, log)
    if raw is None:
        return None
    sessions = dialogues.parse(decode(raw, log), log)
    if not sessions:
        log.fix("no 'Consultant:'/'User:' turns found")
        return None
    return sessions


def _write_profile(path: Path, data: dict) -> str | None:
    """Writes the profile if its YAML text validates as a ``CaseProfile``; else returns why not."""
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    try:
        CaseProfile.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        problem = from_validation_error(path, error)
        return f"not written: the profile does not validate ({problem.field}: {problem.message})"
    write_text_atomic(path, text)
    return None


