"""Importing the MusPsy dataset release into ``CaseProfile`` YAML files.

``import_muspsy(source_dir, out_dir)`` reads ``memories/memories_N.txt`` and, when there,
``dialogues/dialogues_N.txt`` under ``source_dir`` (or the same names directly in it) and
writes, for each client N whose memories can be used:

* ``out_dir/muspsy-N.yaml``: a ``CaseProfile`` (written only when it validates; loads with
  ``scenarios.loader.load_profile``). One course-plan entry per distinct session in the
  memories, in session order.
* ``out_dir/muspsy-N.dialogues.json``: ``{"client_id", "source", "sessions": [{"session_index",
  "turns": [{"speaker": "counselor"|"client", "text"}]}]}``.

Files are written atomically (temporary file, then ``os.replace``). The returned
``ImportReport`` lists the ids written and one ``FileReport`` per input file:

* ``imported``: used as is. Notes may still record defaults for what MusPsy does not state
  (age, gender, occupation, a name) and text shortened to the profile's length limits.
* ``partial``: used, but the file was malformed and something was skipped or repaired
  (outline blocks, repeated or empty sessions, stray headers, bad bytes, renumbering,
  truncated text, memory fields rebuilt from the summary, a missing companion file...).
* ``skipped``: nothing written from it; the notes say why. An unexpected exception while
  reading one file ends up here too, and the import goes on with the next client.

How each field is derived (and the distress heuristic) is described in ``mapping``.
"""

from .importer import (
    FileReport,
    ImportReport,
    format_report,
    import_muspsy,
)
from .mapping import estimate_distress

__all__ = ["FileReport", "ImportReport", "estimate_distress", "format_report", "import_muspsy"]
