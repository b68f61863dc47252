"""`run_sim.py bench`: each benchmark prints its figures and baseline (no timing is asserted)."""

import re

import pytest
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app

runner = CliRunner()
FIGURE = r"p50 +[0-9.]+ ms +p90 +[0-9.]+ ms +\(n=\d+\)"


def _line(output: str, start: str) -> str:
    lines = [line for line in output.splitlines() if line.strip().startswith(start)]
    assert lines, f"no line starting {start!r} in:\n{output}"
    return lines[0]


def test_bench_overhead_quick_prints_per_turn_figures_and_baseline():
    result = runner.invoke(app, ["bench", "overhead", "--quick"])
    assert result.exit_code == 0, result.output
    assert re.search(r"machine: \d+ cores usable", result.output)
    assert re.search(FIGURE, _line(result.output, "per turn, excluding model and embedding"))
    assert re.search(FIGURE, _line(result.output, "baseline: bare LangGraph"))
    assert re.search(r"ratio .*: [0-9.]+x", result.output)
    # 2 clients x 2 sessions x 4 turns, minus the first turn of each session (not an interval between turns)
    assert "(n=12)" in _line(result.output, "per turn, excluding model and embedding")


def test_bench_overhead_reports_routing_and_litellms_cost_per_request_on_their_own_lines():
    result = runner.invoke(app, ["bench", "overhead", "--quick", "--no-startup"])
    assert result.exit_code == 0, result.output
    assert re.search(r"routing per request, subtracted above: [0-9.]+ ms", result.output)
    assert re.search(r"through litellm.completion instead .*: [0-9.]+ ms per request against [0-9.]+ ms in process "
                     r"for the same answer: LiteLLM adds -?[0-9.]+ ms", result.output)
    assert "(the campaign's SQLite settings)" in _line(result.output, "baseline: bare LangGraph")
    assert "start-up" not in result.output


def test_bench_overhead_times_whole_commands_in_fresh_processes():
    result = runner.invoke(app, ["bench", "overhead", "--quick"])
    assert result.exit_code == 0, result.output
    double = _line(result.output, "test double (in process, no LiteLLM)")
    api = _line(result.output, "API models (mock server, through LiteLLM)")
    for line in (double, api):
        wall, campaign = re.search(r"whole command p50 ([0-9.]+) s.*the campaign inside it ([0-9.]+) s", line).groups()
        assert 0 < float(campaign) < float(wall)
    assert re.search(r"LiteLLM's own import, alone: [0-9.]+ s", result.output)
    assert re.search(r"API models, whole command less LiteLLM's import: -?[0-9.]+ s vs target <= 5 s", result.output)


def test_bench_cost_quick_prints_requests_tokens_and_fallbacks_per_method():
    from muspsy_sim.simulation.engine import components

    before = components.shared_embedder
    result = runner.invoke(app, ["bench", "cost", "--quick"])
    assert result.exit_code == 0, result.output
    assert components.shared_embedder is before, "the hashing stand-in is put back: later campaigns of this process " \
                                                 "embed with MiniLM"
    rows = {line.split()[0]: line.split() for line in result.output.splitlines()
            if line.split() and line.split()[0] in ("json-per-item", "json", "logprobs")}
    assert set(rows) == {"json-per-item", "json", "logprobs"}
    # The mock answers a plain JSON object with "{}": every per-item answer falls back; the schema'd and
    # likelihood answers all count.
    assert rows["json-per-item"][5:7] == ["100%", "(64/64)"]
    assert rows["json"][5:7] == ["0%", "(0/64)"] and rows["logprobs"][5:7] == ["0%", "(0/64)"]
    assert float(rows["json"][1]) < float(rows["logprobs"][1]) < float(rows["json-per-item"][1])
    assert "targets on the best method (json" in result.output


def test_bench_cost_rejects_an_unknown_method():
    result = runner.invoke(app, ["bench", "cost", "--methods", "guess"])
    assert result.exit_code == 2


def test_bench_retrieval_quick_prints_search_embedding_and_recall():
    result = runner.invoke(app, ["bench", "retrieval", "--quick"])
    assert result.exit_code == 0, result.output
    assert "500 records" in result.output
    for start in ("embedding the query", "search, first query of a session", "search, later turns",
                  "baseline: raw chromadb"):
        assert re.search(FIGURE, _line(result.output, start)), start
    recall = re.search(r"recall@5 of (\d+) planted facts .*store search ([0-9.]+), HNSW index ([0-9.]+)", result.output)
    assert recall and int(recall.group(1)) > 0
    # The store's exact search must find planted facts (a search that returned nothing would print 0.00).
    assert 0.0 < float(recall.group(2)) <= 1.0


def test_bench_unknown_name_is_a_one_line_input_error():
    result = runner.invoke(app, ["bench", "nonsense"])
    assert result.exit_code == 2
    assert "bench: name: unknown benchmark 'nonsense'" in result.output



def test_bench_scale_quick_prints_cost_per_course_at_each_size_against_the_smallest():
    result = runner.invoke(app, ["bench", "scale", "--quick"])
    assert result.exit_code == 0, result.output
    assert re.search(r"machine: \d+ cores usable", result.output)
    for size in (4, 12):
        line = _line(result.output, f"{size} courses:")
        assert re.search(r"[0-9.]+ ms per course \(CPU [0-9.]+ ms; \d+ sessions\), peak RSS [0-9,]+ MB", line)
    assert re.search(r"commands on the run \(s\): eval [0-9.]+, report [0-9.]+, inspect [0-9.]+", result.output)
    assert re.search(r"checkpoints.sqlite [0-9.]+", result.output)
    assert _line(result.output, "baseline: the 4-course campaign")
    assert re.search(r"target: .* within 1.5x .*: [0-9.]+x, (met|NOT met)", result.output)


def test_bench_concurrency_quick_prints_speedup_and_request_latency_against_the_server():
    result = runner.invoke(app, ["bench", "concurrency", "--quick"])
    assert result.exit_code == 0, result.output
    assert _line(result.output, "baseline: 1 worker")
    line = _line(result.output, "4 workers, 8 courses:")
    assert re.search(r"speed-up [0-9.]+x \(target >= 3.0x: (met|NOT met)\)", line)
    assert re.search(r"a request \d+ ms vs \d+ ms in the server", line)


@pytest.mark.parametrize("args", [["scale", "--sizes", "ten"], ["concurrency", "--workers", "8,x"],
                                  ["overhead", "--clients", "two"], ["scale", "--sizes", "0"]])
def test_a_bad_benchmark_option_ends_in_one_line_and_exit_2(args):
    result = runner.invoke(app, ["bench", *args])
    assert result.exit_code == 2, result.output
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: bench {args[0]}: "), result.output
    assert args[1] in lines[0] or "must be positive" in lines[0], lines[0]  # names the option
