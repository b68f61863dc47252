"""`export RUN --format ratings --out FILE`: every rating of a run as one table (``record.ratings_table``).

One row per rated counselor turn and item, and per questionnaire item: a person's ratings and
answers in a run played with ``practice --as client`` (source human; unrated items empty), the
simulated client's appraisals and answers in any other run. CSV by default; Parquet when FILE ends
in ``.parquet``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InputError
from ..record.ratings_table import session_rows, write_ratings
from ..record.run_log import RunLog
from ..record.schema import SESSIONS

SUFFIXES = (".csv", ".parquet")


@dataclass
class RatingsExport:
    path: Path
    rows: int
    sessions: int
    unrated: int  # rows with no rating: items left unanswered by a person, and the rules' cues


def export_ratings(source: Path, out: Path) -> RatingsExport:
    """Write the ratings of the run in ``source`` to ``out`` (InputError, nothing written, for bad input)."""
    if out.suffix.lower() not in SUFFIXES:
        raise InputError("--out", "", f"'{out.name}': a ratings table is written as .csv or .parquet")
    run = RunLog.open(source)
    if not run.sessions:
        raise InputError(run.path / SESSIONS, "", "no finished sessions")
    rows = [row for record in run.sessions for row in session_rows(run.name, record)]
    written = write_ratings(out, rows)
    return RatingsExport(out, written, len(run.sessions), sum(1 for row in rows if row["rating"] is None))
