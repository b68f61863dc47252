"""Trajectory realism: how courses move on PHQ-9 and GAD-7 (issue 16, point 6)."""

from __future__ import annotations

import json
import statistics

import pytest
from rich.console import Console
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.metrics import SessionMetrics
from muspsy_sim.simulation.evaluation.trajectories import course_series, realism_table, trajectory_realism

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
    assert realism.thresholds["phq9"].to_dict() == {"reliable_change": 6, "setback": 3}


def test_course_series_ends_with_the_exit_assessment_and_skips_gaps():
    rows = rows_of({"a": [10, 8, 9, 5]})
    rows[1].metrics["phq9"] = None  # an unusable questionnaire: no point, and no step through it
    series = course_series(rows, "phq9")
    assert series == {"a": [(1, 10.0), (3, 9.0), (3.5, 5.0)]}


def test_the_realism_table_prints_both_instruments():
    realism = trajectory_realism(rows_of(COURSES, gad7={c: [p // 2 for p in points] for c, points in COURSES.items()}))
    console = Console(record=True, width=200)
    console.print(realism_table(realism))
    text = console.export_text()
    assert "Trajectory realism" in text and "PHQ-9" in text and "GAD-7" in text
    assert "50%" in text and "25%" in text and "-0.67" in text


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
    assert 'class="realism-plot plot-trajectories"' in html
    assert "Trajectory realism" in html and "with a setback" in html
