"""Trajectory realism: how courses move on PHQ-9 and GAD-7 (issue 16, point 6; issue 23, point 5)."""

from __future__ import annotations

import json
import statistics

import pytest
from rich.console import Console
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.metrics import SessionMetrics
from muspsy_sim.simulation.evaluation.realism_table import realism_table
from muspsy_sim.simulation.evaluation.reliable_change import reliable_change, sudden_gain
from muspsy_sim.simulation.evaluation.trajectories import course_series, trajectory_realism
from muspsy_sim.simulation.record.schema import CourseEntry

runner = CliRunner()
# PHQ-9 at the start of sessions 1-3, then the exit assessment.
COURSES = {
    "improver": [15, 12, 9, 7],      # -8: improving, steadily
    "flat": [12, 12, 13, 12],        # 0: flat (a one-point rise is no setback)
    "worsener": [10, 14, 13, 17],    # +7: worsening, with a setback
    "bumpy": [18, 14, 17, 11],       # -7: improving, with a setback on the way
}


def rows_of(courses: dict[str, list[int]], gad7: dict[str, list[int]] | None = None) -> list[SessionMetrics]:
    rows = []
    for client, points in courses.items():
        for position in range(len(points) - 1):
            metrics = {"phq9": float(points[position]), "phq9_change": float(points[position + 1] - points[position])}
            if gad7 is not None:
                g = gad7[client]
                metrics.update({"gad7": float(g[position]), "gad7_change": float(g[position + 1] - g[position])})
            rows.append(SessionMetrics(run="r", client_id=client, session_index=position + 1, metrics=metrics))
    return rows


def test_shares_changes_and_spread_of_courses():
    realism = trajectory_realism(rows_of(COURSES))
    phq9 = realism.phq9
    assert phq9.courses == 4
    assert (phq9.improving, phq9.flat, phq9.worsening) == (0.5, 0.25, 0.25)
    assert phq9.with_setback == 0.5
    assert phq9.mean_change_per_session == pytest.approx((-8 + 0 + 7 - 7) / 12, abs=1e-4)
    changes = [-8, 0, 7, -7]
    assert phq9.sd_change == pytest.approx(statistics.stdev(changes), abs=1e-4)
    assert (phq9.min_change, phq9.max_change) == (-8, 7)
    assert realism.gad7.courses == 0
    # Four first measurements are too few for a sample SD: the fixed NHS Talking Therapies criterion (as published,
    # whole points), said so.
    assert realism.thresholds["phq9"].to_dict() == {"reliable_change": 6, "setback": 3}
    assert "fewer than 10" in phq9.reliable_change.method


def test_the_reliable_change_follows_jacobson_and_truax_with_the_published_reliability():
    baselines = [8, 10, 12, 14, 16, 18, 20, 9, 11, 13, 15]
    found = reliable_change("phq9", baselines)
    expected = 1.96 * statistics.stdev(baselines) * (2 * (1 - 0.89)) ** 0.5
    assert found.threshold == pytest.approx(expected, abs=1e-3) and found.reliability == 0.89
    assert "Kroenke" in found.reliability_source and "Jacobson & Truax" in found.method
    assert reliable_change("gad7", baselines).threshold == pytest.approx(
        1.96 * statistics.stdev(baselines) * (2 * (1 - 0.92)) ** 0.5, abs=1e-3)
    # No spread among the first measurements: no sample SD, so the fixed criterion.
    assert reliable_change("gad7", [10] * 12).threshold == 4


@pytest.mark.parametrize(("values", "expected"), [
    ([18, 17, 17, 9, 8, 8], 2),        # a large, stable drop: a sudden gain before the fourth measurement
    ([18, 17, 17, 9, 16, 17], None),   # the drop reverses: the scores after it are not clearly lower
    ([18, 16, 14, 12, 10, 8], None),   # steady improvement: no single drop of the reliable change
    ([6, 6, 6, 2, 2, 2], None),        # a drop of 4 is under the reliable change of 5 (criterion 1)
    ([30, 28, 29, 23, 22, 22], None),  # 6 points but under 25% of the score before it (criterion 2)
    ([18, 9, 9, 8], None),             # only one measurement before the drop: criterion 3 cannot be tested
])
def test_sudden_gains_meet_tang_and_derubeis_three_criteria(values, expected):
    assert sudden_gain(values, 5.0) == expected


def test_intention_to_treat_keeps_dropouts_in_the_denominator():
    # "gone" came to one session and did not come back: its only measurement is carried forward (no change).
    rows = rows_of({**COURSES, "early": [16, 12]})
    rows.append(SessionMetrics(run="r", client_id="gone", session_index=1, metrics={"phq9": 14.0, "phq9_change": None}))
    outcomes = {client: CourseEntry(status="finished", ended_by="completed") for client in [*COURSES, "early"]}
    left = {"after_session": 1, "reason": "low alliance: trust 2/10"}
    outcomes["gone"] = CourseEntry.model_validate({"status": "finished", "ended_by": "dropout", "dropout": left})
    outcomes["broken"] = CourseEntry(status="failed")
    rows.append(SessionMetrics(run="r", client_id="broken", session_index=1,
                               metrics={"phq9": 20.0, "phq9_change": -10.0}))
    # A course its infrastructure stopped (a service away, a full disk) is no client outcome until `resume`
    # finishes it: not "unchanged" in the denominator.
    outcomes["stopped"] = CourseEntry(status="interrupted", error="disk full: cannot write runs/r/sessions.jsonl")
    rows.append(SessionMetrics(run="r", client_id="stopped", session_index=1,
                               metrics={"phq9": 12.0, "phq9_change": None}))
    # Nor is a course still pending or running (eval during a campaign, or after it was killed outright).
    for client, status in (("waiting", "pending"), ("midway", "running")):
        outcomes[client] = CourseEntry(status=status, sessions_done=1)
        rows.append(SessionMetrics(run="r", client_id=client, session_index=1,
                                   metrics={"phq9": 18.0, "phq9_change": -9.0}))
    realism = trajectory_realism(rows, outcomes)
    phq9 = realism.phq9
    gone = phq9.by_client["gone"]
    assert phq9.courses == 6 and gone.class_ == "flat" and gone.ended_by == "dropout" and gone.per_session is None
    assert (phq9.improving, phq9.worsening) == (round(2 / 6, 4), round(1 / 6, 4))
    assert realism.dropout.to_dict() == {"courses": 6, "recorded": 6, "dropped_out": 1, "share": round(1 / 6, 4),
                                         "after_session": {"1": 1}, "median_after_session": 1,
                                         "reasons": {"low alliance": 1}}
    assert realism.excluded_failed == ["broken", "midway", "stopped", "waiting"]
    dropout_line = next(line for line in realism.references if line.key == "dropout")
    assert dropout_line.value == round(1 / 6, 4) and dropout_line.in_range is True
    assert "Swift & Greenberg 2012" in dropout_line.source


def test_course_series_ends_with_the_exit_assessment_and_skips_gaps():
    rows = rows_of({"a": [10, 8, 9, 5]})
    rows[1].metrics["phq9"] = None  # an unusable questionnaire: no point, and no step through it
    series = course_series(rows, "phq9")
    assert series == {"a": [(1, 10.0), (3, 9.0), (3.5, 5.0)]}


def test_the_realism_view_counts_what_eval_left_out():
    """Issue 22 meets 23: a total eval did not score, or an outcome it left out (filled-in appraisal items), is no
    measurement here either, and is counted; a course left with none is listed, not silently dropped."""
    rows = rows_of({"a": [10, 8, 9, 5], "b": [12, 11, 10, 9], "c": [14, 13]})
    rows[1].metrics["phq9"] = None  # a: a filled-in answer at the start of session 2
    last_b = next(r for r in rows if r.client_id == "b" and r.session_index == 3)
    last_b.metrics["phq9_change"] = None  # b: the exit change eval left out (filled-in appraisal items)
    last_b.left_out["phq9_change"] = "2 appraisal item(s) were filled in"
    rows.append(SessionMetrics(run="r", client_id="d", session_index=1, metrics={"phq9": None, "phq9_change": None}))
    outcomes = {client: CourseEntry(status="finished", ended_by="completed") for client in "abd"}
    outcomes["c"] = CourseEntry.model_validate({"status": "finished", "ended_by": "dropout",
                                                "dropout": {"after_session": 1, "reason": "no improvement: x"}})
    phq9 = trajectory_realism(rows, outcomes).phq9
    # a: one start; b: its exit; d: its only start and its exit (placed from the start). c took no exit.
    assert phq9.skipped == 4 and phq9.unmeasured == ["d"] and phq9.courses == 3
    assert phq9.by_client["a"].measurements == 3 and phq9.by_client["b"].measurements == 3
    console = Console(record=True, width=250)
    console.print(realism_table(trajectory_realism(rows, outcomes)))
    text = " ".join(console.export_text().split())
    assert "PHQ-9: 4 measurement(s) skipped" in text and "courses with none, left out: d" in text


def test_a_counselor_is_its_name_model_and_options():
    from muspsy_sim.simulation.evaluation.counselor_effects import counselor_of

    rows = [SessionMetrics(run="r", client_id="a", session_index=1, counselor="muspsy", models={"counselor": "m"})]
    assert counselor_of(rows) == "muspsy (m)"
    # YAML reads a bare off as false: MusPsy without its scaffold is another counselor, named as it was meant
    assert counselor_of(rows, {"scaffold": False}) == counselor_of(rows, {"scaffold": "off"}) == "muspsy [scaffold=off] (m)"


def test_the_realism_table_prints_both_instruments():
    realism = trajectory_realism(rows_of(COURSES, gad7={c: [p // 2 for p in points] for c, points in COURSES.items()}))
    console = Console(record=True, width=200)
    console.print(realism_table(realism))
    text = console.export_text()
    assert "Trajectory realism" in text and "PHQ-9" in text and "GAD-7" in text
    assert "50%" in text and "25%" in text and "-0.67" in text
    # Each line with a reference shows its range and, in the notes, the published figures and their source.
    assert "40-60% [1]" in text and "Howard, Kopta, Krause & Orlinsky 1986" in text and "Swift & Greenberg 2012" in text
    assert "25% *" in text  # 25% deteriorated is outside 3-12%: marked


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    from tests.conftest import scripted_config

    tmp = tmp_path_factory.mktemp("realism")
    config = scripted_config(tmp, scenarios=["gad-priya-38", "insomnia-david-47", "panic-lucia-33"], sessions=3,
                             max_turns=2)
    assert runner.invoke(app, ["run", "--config", str(config), "--no-progress"]).exit_code == 0
    run_dir = tmp / "runs" / "scripted"
    scored = runner.invoke(app, ["eval", str(run_dir), "--no-judge"], terminal_width=200)
    assert scored.exit_code == 0, scored.output
    return run_dir, scored.output


def test_eval_prints_and_keeps_the_realism_table(scored_run):
    run_dir, output = scored_run
    assert "Trajectory realism" in output and "PHQ-9" in output and "GAD-7" in output
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trajectory_realism"]["phq9"]["courses"] == 3
    assert summary["trajectory_realism"]["gad7"]["courses"] == 3


def test_the_report_plots_the_trajectories(scored_run, tmp_path):
    run_dir, _ = scored_run
    out = tmp_path / "report.html"
    assert runner.invoke(app, ["report", str(run_dir), "--out", str(out)]).exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert 'class="realism-plot plot-trajectories"' in html and 'class="realism-plot plot-references"' in html
    assert "Trajectory realism" in html and "with a setback" in html and "Swift &amp; Greenberg 2012" in html


def test_a_course_ends_where_eval_left_a_sessions_change_out():
    """PHQ-9 20, 20*, 5, 5: session 2's client moved on filled-in appraisal items, so eval left its change out.
    The fall to 5 after it rests on that state: no improvement, no sudden gain, no step; the course ends with
    session 2's 20 carried forward, and the two later measurements are counted as skipped."""
    rows = rows_of({"a": [20, 20, 5, 5], "b": [15, 14, 13, 12]})
    second = next(r for r in rows if r.client_id == "a" and r.session_index == 2)
    second.metrics["phq9_change"] = None
    second.left_out["phq9_change"] = "1 appraisal item(s) of 1 counselor turn(s) were filled in"
    assert course_series(rows, "phq9")["a"] == [(1, 20.0), (2, 20.0)]
    outcomes = {client: CourseEntry(status="finished", ended_by="completed") for client in "ab"}
    phq9 = trajectory_realism(rows, outcomes).phq9
    a = phq9.by_client["a"]
    assert (a.change, a.class_, a.sudden_gain, a.measurements) == (0, "flat", False, 2)
    assert phq9.improving == 0 and phq9.with_sudden_gain == 0 and phq9.skipped == 2
    assert phq9.sd_session_change == pytest.approx(statistics.stdev([0, -1, -1, -1]), abs=1e-4)
