"""The run record: its schema (``schema``), the writer (``run_directory``), the reader (``run_log``)
and the upgrade of runs written by earlier versions (``migrate``).

Layering inside: ``run_directory`` -> ``run_log`` -> ``migrate`` -> ``manifest_schema`` -> ``schema`` -> ``files``.
"""

from muspsy_sim.simulation.record.run_directory import RunDirectory, RunDirectoryBusy
from muspsy_sim.simulation.record.run_log import RunLog
from muspsy_sim.simulation.record.manifest_schema import Manifest, json_schema
from muspsy_sim.simulation.record.schema import (
    SCHEMA_VERSION,
    ClientTurnRecord,
    CounselorTurnRecord,
    SessionRecord,
    Turn,
)

__all__ = ["SCHEMA_VERSION", "ClientTurnRecord", "CounselorTurnRecord", "Manifest", "RunDirectory", "RunDirectoryBusy",
           "RunLog", "SessionRecord", "Turn", "json_schema"]
