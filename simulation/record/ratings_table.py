"""Ratings as a table: one row per rated counselor turn and item, and per questionnaire item.

The rows are how a researcher analyses people's and simulated clients' ratings together
(`export --format ratings`, and the ``ratings.csv`` that `validity human` writes beside its
figures, whose simulated rows join a person's on run, client, session, turn and item). Written as
CSV (the standard library; opens anywhere) or, when the file name ends in ``.parquet``, as Parquet
(pyarrow, typed columns). Nothing is filled in: an item left unrated has an empty ``rating``.

Columns (``COLUMNS``):

* ``run``, ``client_id``, ``session_index``: where; ``client``: human or simulated; ``rater``: the
  person's name, or who rated for a simulated client (``simulated``, or the replay's model and appraiser);
* ``kind``: ``turn`` (a counselor turn, on the appraisal items) or ``questionnaire``;
  ``turn``: the counselor turn's index in the session's turns; ``moment``: ``turn``, ``before``,
  ``after`` or ``exit`` (questionnaires: before the session, after it, after the course);
* ``instrument`` (``appraisal``, ``phq9``, ``gad7``, ``wai_sr``, ``panas``), ``item`` (the appraisal
  field, or the item's number), ``item_text``;
* ``rating``: the answer on the item's scale (empty when unrated, or when no rating was given: the
  rules appraiser's cues are not ratings); ``value``: the number compared (a rating, or a rules cue
  as 1 + 4 x cue on the 1..5 scale); ``scale_min``, ``scale_max``;
* ``source``: human, model, fallback (filled in: the scale's middle, not an answer), latent-readout,
  rules; ``latent``: the simulated client's latent level of a questionnaire item.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from pathlib import Path

from muspsy_sim.agents.client.appraisal import appraisal_items
from muspsy_sim.agents.client.questionnaires import instruments

from ..core.files import write_text_atomic
from ..core.questionnaires import AT_START, FALLBACK_METHOD, QuestionnaireResult
from ..core.turns import HUMAN, Appraisal, ClientTurn
from .schema import SessionRecord

COLUMNS = ("run", "client_id", "session_index", "client", "rater", "kind", "turn", "moment", "instrument", "item",
           "item_text", "rating", "value", "scale_min", "scale_max", "source", "latent")
APPRAISAL = "appraisal"


def appraisal_row(where: dict, turn: int, item: str, value: float | None, source: str, *,
                  rating: int | None = None) -> dict:
    """One appraisal item of one counselor turn; ``where``: run, client_id, session_index, client, rater."""
    scale, items = appraisal_items()
    texts = {entry.field: entry.text for entry in items}
    return {**where, "kind": "turn", "turn": turn, "moment": "turn", "instrument": APPRAISAL, "item": item,
            "item_text": texts.get(item, ""), "rating": rating, "value": value, "scale_min": min(scale),
            "scale_max": max(scale), "source": source, "latent": None}


def questionnaire_rows(where: dict, moment: str, key: str, entry: QuestionnaireResult) -> Iterator[dict]:
    """One row per item of one questionnaire as the record holds it."""
    instrument = instruments().get(key)
    texts = instrument.items if instrument else ()
    low, high = (min(instrument.scale), max(instrument.scale)) if instrument else (None, None)
    filled = set(entry.filled_in)
    methods = [m for m in entry.methods if m != FALLBACK_METHOD]
    for number, answer in enumerate(entry.answers, start=1):
        source = FALLBACK_METHOD if number in filled else (entry.mode if entry.mode in (HUMAN, "latent") else None)
        source = source or (methods[0] if len(methods) == 1 else "model")
        if source == "latent":
            source = "latent-readout"
        latent = entry.latent[number - 1] if len(entry.latent) == len(entry.answers) else None
        yield {**where, "kind": "questionnaire", "turn": None, "moment": moment, "instrument": key,
               "item": str(number), "item_text": texts[number - 1] if number <= len(texts) else "",
               "rating": answer, "value": None if answer is None else float(answer), "scale_min": low,
               "scale_max": high, "source": source, "latent": latent}


def session_rows(run: str, record: SessionRecord) -> Iterator[dict]:
    """Every rating of one recorded session: the counselor turns' appraisals (a person's ratings, or the
    simulated client's appraisal), then the questionnaires."""
    person = record.played_by_person
    where = {"run": run, "client_id": record.client_id, "session_index": record.session_index,
             "client": HUMAN if person else "simulated", "rater": (record.rater or "") if person else "simulated"}
    if person:
        for rating in record.turn_ratings:
            yield appraisal_row(where, rating.turn, rating.item, None if rating.rating is None else float(rating.rating),
                                rating.source, rating=rating.rating)
    else:
        for index, turn in enumerate(record.turns):
            if isinstance(turn, ClientTurn) and turn.appraisal is not None and index > 0:
                yield from appraisal_rows(where, index - 1, turn.appraisal)
    if record.questionnaires is None:
        return
    for key, entry in record.questionnaires.results():
        yield from questionnaire_rows(where, "before" if key in AT_START else "after", key, entry)
    if record.questionnaires.exit is not None:
        for key, entry in record.questionnaires.exit.results():
            yield from questionnaire_rows(where, "exit", key, entry)


def appraisal_rows(where: dict, turn: int, appraisal: Appraisal) -> Iterator[dict]:
    """A simulated client's appraisal of one counselor turn as rows: a model's ratings are ratings (1..5);
    the rules' cues are values on the same scale (1 + 4 x cue), not ratings. An item the model gave no
    rating for is a ``fallback`` row: the scale's middle that was filled in, as value, and no rating."""
    source = appraisal.source or "rules"
    filled = set(appraisal.filled_in_items())
    if source == "model" and "unknown" in filled:
        source = "model+fallback"  # a record from before `filled_in`: some item was filled in, which one it does not say
    for entry in appraisal_items()[1]:
        cue = getattr(appraisal, entry.field, None)
        if cue is None:
            continue
        value = round(1 + 4 * float(cue), 4)
        item_source = FALLBACK_METHOD if entry.field in filled else source
        rating = int(round(value)) if item_source.startswith("model") else None
        yield appraisal_row(where, turn, entry.field, value, item_source, rating=rating)


def write_ratings(path: Path, rows: Iterable[dict]) -> int:
    """Write the rows as CSV, or Parquet when ``path`` ends in .parquet; returns how many were written."""
    rows = [{column: row.get(column) for column in COLUMNS} for row in rows]
    if path.suffix.lower() == ".parquet":
        # lazy: pyarrow only for a Parquet file
        import pyarrow as pa
        import pyarrow.parquet as pq

        numbers = {"session_index": pa.int64(), "turn": pa.int64(), "rating": pa.int64(), "value": pa.float64(),
                   "scale_min": pa.int64(), "scale_max": pa.int64(), "latent": pa.float64()}
        schema = pa.schema([(column, numbers.get(column, pa.string())) for column in COLUMNS])
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.tmp")
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), staging)
        staging.replace(path)
        return len(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
    write_text_atomic(path, buffer.getvalue())
    return len(rows)
