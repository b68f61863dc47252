"""Comparing runs from hand-built metrics.jsonl files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.evaluation.compare import (
    cell_lines,
    compare_runs,
    comparison_markdown,
    load_metrics,
    read_comparison,
    render_comparison,
    trend_table,
    write_comparison,
)

CLIENTS = ("gad-priya-38", "insomnia-david-47")
SEEDS = (7, 8)
SESSIONS = (1, 2, 3)


def write_run(directory: Path, records: list[dict]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(record) for record in records]
    (directory / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def record(run: str, client: str, seed: int, session: int, counselor: str, **metrics) -> dict:
    return {
        "run": run, "client_id": client, "session_index": session, "seed": seed, "counselor": counselor,
        "models": {"counselor": "testdouble/scripted", "client": "testdouble/scripted", "judge": "testdouble/scripted"},
        "metrics": metrics,
    }


def wai(client: int, seed: int, session: int) -> float:
    """A baseline WAI score that differs by client, seed and session."""
    return 30.0 + 2.0 * client + seed + 3.0 * session


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path]:
    """Baseline vs muspsy on the same clients and seeds; muspsy's WAI is exactly 2 higher."""
    base, muspsy = [], []
    for c, client in enumerate(CLIENTS):
        for seed in SEEDS:
            for session in SESSIONS:
                follow_up = None if session == 1 else 0.0
                base.append(record("base", client, seed, session, "baseline",
                                   wai_total=wai(c, seed, session), followed_up_assignment=follow_up))
                muspsy.append(record("muspsy", client, seed, session, "muspsy",
                                     wai_total=wai(c, seed, session) + 2.0,
                                     followed_up_assignment=None if session == 1 else 1.0,
                                     recall_at_k=0.5 if session > 1 else None))
    return write_run(tmp_path / "run-a", base), write_run(tmp_path / "run-b", muspsy)


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def test_means_and_counts(two_runs):
    result = compare_runs(list(two_runs), resamples=500)
    assert result.runs == ["base", "muspsy"]
    expected = mean([wai(c, s, k) for c in range(2) for s in SEEDS for k in SESSIONS])
    base, muspsy = result.metrics["wai_total"]["base"], result.metrics["wai_total"]["muspsy"]
    assert base.mean == pytest.approx(expected)
    assert muspsy.mean == pytest.approx(expected + 2.0)
    assert base.n == muspsy.n == 12
    assert base.low < base.mean < base.high


def test_nulls_are_ignored(two_runs):
    result = compare_runs(list(two_runs), resamples=200)
    follow_up = result.metrics["followed_up_assignment"]
    assert follow_up["base"].to_dict() == {"mean": 0.0, "low": 0.0, "high": 0.0, "n": 8, "clients": 2}
    assert follow_up["muspsy"].to_dict() == {"mean": 1.0, "low": 1.0, "high": 1.0, "n": 8, "clients": 2}
    assert result.paired["followed_up_assignment"]["muspsy"].pairs == 8
    assert result.paired["followed_up_assignment"]["muspsy"].diff == pytest.approx(1.0)
    assert set(result.trend["followed_up_assignment"]["muspsy"]) == {2, 3}


def test_paired_difference_against_the_first_run(two_runs):
    result = compare_runs(list(two_runs), resamples=500)
    paired = result.paired["wai_total"]
    assert set(paired) == {"muspsy"}
    assert paired["muspsy"].pairs == 12
    assert paired["muspsy"].diff == pytest.approx(2.0)
    assert paired["muspsy"].high - paired["muspsy"].low == pytest.approx(0.0, abs=1e-9)


def test_trend_per_session(two_runs):
    result = compare_runs(list(two_runs), resamples=100)
    trend = result.trend["wai_total"]
    for session in SESSIONS:
        expected = mean([wai(c, s, session) for c in range(2) for s in SEEDS])
        assert trend["base"][session] == pytest.approx(expected)
        assert trend["muspsy"][session] == pytest.approx(expected + 2.0)
    assert list(trend["base"]) == [1, 2, 3]


def test_a_metric_in_only_one_run(two_runs):
    result = compare_runs(list(two_runs), resamples=100)
    assert set(result.metrics["recall_at_k"]) == {"muspsy"}
    assert result.metrics["recall_at_k"]["muspsy"].n == 8
    assert result.paired["recall_at_k"] == {}
    assert set(result.trend["recall_at_k"]) == {"muspsy"}


def test_a_metric_null_everywhere_is_left_out(tmp_path):
    rows = [record("r", "c", 1, k, "muspsy", phq9=float(k), recall_at_k=None) for k in SESSIONS]
    result = compare_runs([write_run(tmp_path / "r", rows)], resamples=100)
    assert list(result.metrics) == ["phq9"]
    assert "recall_at_k" not in result.trend and "recall_at_k" not in result.paired


def test_unshared_sessions_are_not_paired(tmp_path):
    a = write_run(tmp_path / "a", [record("a", "c1", 1, k, "baseline", phq9=10.0) for k in SESSIONS])
    b = write_run(tmp_path / "b", [record("b", "c2", 1, k, "muspsy", phq9=8.0) for k in SESSIONS])
    one = write_run(tmp_path / "one", [record("one", "c1", 1, 1, "muspsy", phq9=8.0)])
    result = compare_runs([a, b, one], resamples=100)
    assert result.paired["phq9"] == {}  # b shares no session; one shares a single session


def test_run_names_fall_back_to_the_directory_and_get_suffixes(tmp_path):
    rows = [{"client_id": "c", "seed": 1, "session_index": k, "metrics": {"phq9": 9.0}} for k in SESSIONS]
    unnamed = write_run(tmp_path / "unnamed-run", rows)
    first = write_run(tmp_path / "x" / "same", [record("same", "c", 1, k, "muspsy", phq9=9.0) for k in SESSIONS])
    second = write_run(tmp_path / "y" / "same", [record("same", "c", 1, k, "muspsy", phq9=9.0) for k in SESSIONS])
    result = compare_runs([unnamed, first, second], resamples=100)
    assert result.runs == ["unnamed-run", "same", "same-2"]
    assert set(result.metrics["phq9"]) == {"unnamed-run", "same", "same-2"}


def test_compare_is_deterministic(two_runs):
    assert compare_runs(list(two_runs), resamples=300, seed=4) == compare_runs(list(two_runs), resamples=300, seed=4)


def test_render_comparison_cells(two_runs):
    from rich.console import Console

    result = compare_runs(list(two_runs), resamples=200)
    table = render_comparison(result)
    assert [column.header for column in table.columns] == ["metric", "base", "muspsy"]
    metric_cells = list(table.columns[0].cells)
    assert metric_cells == list(result.metrics)
    row = metric_cells.index("followed_up_assignment")
    assert list(table.columns[1].cells)[row] == "0.00 [0.00, 0.00]"
    assert list(table.columns[2].cells)[row] == "1.00 [1.00, 1.00]\nΔ +1.00 [1.00, 1.00]"
    recall = metric_cells.index("recall_at_k")
    assert list(table.columns[1].cells)[recall] == "—"
    assert list(table.columns[2].cells)[recall] == "0.50 [0.50, 0.50]"

    console = Console(record=True, width=200)
    console.print(table)
    console.print(trend_table(result, "wai_total"))
    text = console.export_text()
    assert "Δ +2.00 [2.00, 2.00]" in text
    assert "slope" in text and "+3.00" in text


def test_write_comparison_round_trips(two_runs, tmp_path):
    result = compare_runs(list(two_runs), resamples=200)
    paths = write_comparison(result, tmp_path / "out" / "cmp")
    assert [path.name for path in paths] == ["compare.json", "compare.md"]
    assert all(path.is_file() for path in paths)
    assert json.loads(paths[0].read_text(encoding="utf-8")) == json.loads(json.dumps(result.to_dict()))
    assert read_comparison(paths[0]) == result
    assert read_comparison(paths[0].parent) == result
    markdown = paths[1].read_text(encoding="utf-8")
    assert markdown == comparison_markdown(result)
    assert "| metric | base | muspsy |" in markdown
    assert "| followed_up_assignment | 0.00 [0.00, 0.00] | 1.00 [1.00, 1.00]<br>Δ +1.00 [1.00, 1.00] |" in markdown
    assert not [p for p in paths[0].parent.iterdir() if p.name.startswith(".")]  # no staging files left


def test_missing_metrics_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as caught:
        load_metrics(tmp_path)
    assert caught.value.source == str(tmp_path / "metrics.jsonl")
    assert "run_sim.py eval RUN_DIR" in caught.value.message
    with pytest.raises(InputError):
        compare_runs([tmp_path / "nowhere"])


def test_malformed_metrics_are_input_errors(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"metrics": {"phq9": 3}}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"metrics": {"phq9": "high"}}\n', encoding="utf-8")
    with pytest.raises(InputError, match="metrics.phq9"):
        load_metrics(tmp_path)


# --- intervals by client (issue 16, point 5) --------------------------------------------------------------------


def test_intervals_resample_clients_and_say_so(tmp_path):
    """Eight sessions per client that move together: a session-level bootstrap would be far too narrow."""
    clients = {f"client-{i}": 10.0 + 4.0 * i for i in range(5)}
    base_rows, other_rows = [], []
    for c, (client, level) in enumerate(clients.items()):
        for session in range(1, 9):
            base_rows.append(record("base", client, 1, session, "baseline", phq9=level + 0.01 * session))
            # The effect differs by client (from -2 to +6): the paired interval must reflect five clients, not 40 pairs.
            other_rows.append(record("other", client, 1, session, "muspsy", phq9=level + 0.01 * session + 2.0 * c - 2.0))
    result = compare_runs([write_run(tmp_path / "a", base_rows), write_run(tmp_path / "b", other_rows)], resamples=2000)
    summary = result.metrics["phq9"]["base"]
    assert summary.n == 40 and summary.clients == 5
    from muspsy_sim.simulation.evaluation.statistics import bootstrap_ci

    _, low, high = bootstrap_ci(list(clients.values()), seed=0)
    assert summary.high - summary.low == pytest.approx(high - low, rel=0.2)
    paired = result.paired["phq9"]["other"]
    assert paired.pairs == 40 and paired.clients == 5
    assert paired.high - paired.low > 3.0  # five client effects -2..6, not forty near-copies
    assert "clients" in result.method and "paired by client, seed and session" in result.method
    markdown = comparison_markdown(result)
    assert "cluster bootstrap" in markdown and "resampling clients" in markdown
    assert "resampling clients" in (render_comparison(result).caption or "")


def test_one_client_gives_no_interval(tmp_path):
    rows = [record("r", "c", 1, k, "muspsy", phq9=float(k)) for k in SESSIONS]
    result = compare_runs([write_run(tmp_path / "r", rows)], resamples=100)
    assert result.metrics["phq9"]["r"].low is None and result.metrics["phq9"]["r"].clients == 1
    assert cell_lines(result, "phq9", "r") == ["2.00 (one client: no interval)"]


def test_a_metric_a_run_marks_not_applicable_is_shown_so(tmp_path):
    rows = [dict(record("nm", c, 1, k, "no-memory", recall_at_k=None, phq9=1.0), not_applicable=["recall_at_k"])
            for c in CLIENTS for k in SESSIONS]
    other = [record("m", c, 1, k, "muspsy", recall_at_k=0.5, phq9=1.0) for c in CLIENTS for k in SESSIONS]
    result = compare_runs([write_run(tmp_path / "m", other), write_run(tmp_path / "nm", rows)], resamples=100)
    assert result.not_applicable == {"recall_at_k": ["nm"]}
    assert cell_lines(result, "recall_at_k", "nm") == ["not applicable"]
