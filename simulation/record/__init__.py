"""The run record: its schema (``schema``), the writer (``run_directory``), the reader (``run_log``)
and the upgrade of runs written by earlier versions (``migrate``).

Layering inside: ``run_directory`` -> ``run_log`` -> ``migrate`` | ``tallies`` -> ``schema`` (which composes the
kernel's values, ``simulation.core``).
"""

from .run_directory import RunDirectory, RunDirectoryBusy
from .run_log import RunLog
from .schema import SCHEMA_VERSION, Manifest, SessionRecord, json_schema

__all__ = ["SCHEMA_VERSION", "Manifest", "RunDirectory", "RunDirectoryBusy", "RunLog", "SessionRecord", "json_schema"]
