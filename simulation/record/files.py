"""The files of a run directory (docs/design.md, "Run directory").

``manifest.json`` and ``sessions.jsonl`` are the run record (``record.schema``);
``checkpoints.sqlite`` and ``chroma/`` hold the LangGraph checkpoints and the memory
store; ``metrics.jsonl`` and ``summary.json`` are written by ``eval``.
"""

MANIFEST = "manifest.json"
SESSIONS = "sessions.jsonl"
CHECKPOINTS = "checkpoints.sqlite"
CHROMA = "chroma"
METRICS = "metrics.jsonl"
SUMMARY = "summary.json"
