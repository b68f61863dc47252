"""The ratings table (`export --format ratings`): which rows are ratings, and who gave them."""

from __future__ import annotations

from muspsy_sim.agents.client.appraisal import appraisal_items
from muspsy_sim.simulation.core.turns import Appraisal
from muspsy_sim.simulation.record.ratings_table import appraisal_rows


def test_a_filled_in_appraisal_item_is_a_fallback_row_and_no_rating():
    fields = [item.field for item in appraisal_items()[1]]
    filled, rated = fields[0], fields[1:]
    appraisal = Appraisal(source="model", methods={"likelihood": len(rated), "fallback": 1}, filled_in=[filled],
                          **{field: 0.75 for field in rated}, **{filled: 0.5})
    rows = {row["item"]: row for row in appraisal_rows({"run": "r"}, 0, appraisal)}
    assert (rows[filled]["source"], rows[filled]["rating"], rows[filled]["value"]) == ("fallback", None, 3.0)
    assert all((rows[field]["source"], rows[field]["rating"]) == ("model", 4) for field in rated)


def test_an_appraisal_from_before_filled_in_was_kept_marks_every_item():
    fields = [item.field for item in appraisal_items()[1]]
    appraisal = Appraisal(source="model", methods={"likelihood": 3, "fallback": 1}, **{field: 0.5 for field in fields})
    assert {row["source"] for row in appraisal_rows({"run": "r"}, 0, appraisal)} == {"model+fallback"}
