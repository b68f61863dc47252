"""Graph drawings, the Studio entry point, and run inspection (overview, transcript, checkpoints). TEST DOUBLE only."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from muspsy_sim.simulation.cli import app
from muspsy_sim.simulation.core.errors import InputError
from muspsy_sim.simulation.inspection import graphs
from muspsy_sim.simulation.inspection.inspect_run import (
    checkpoint_history,
    history_table,
    run_overview,
    session_transcript,
)
from tests.conftest import REPO, scripted_config

COURSE_NODES = ("plan", "report_before", "session", "report_after", "memorize", "record", "evolve")
SESSION_NODES = ("counselor_turn", "client_turn", "closing")
CLIENTS = ("gad-priya-38", "insomnia-david-47")
TEST_DOUBLE = {f"models.{role}.model": "testdouble/scripted" for role in ("counselor", "client", "judge")}


def text_of(renderable) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("inspect")
    config = scripted_config(tmp)
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--no-progress"])
    assert result.exit_code == 0, result.output
    return tmp / "runs" / "scripted"


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "sessions.jsonl").read_text(encoding="utf-8").splitlines()]


# --- drawing --------------------------------------------------------------------------------------

def test_mermaid_expands_the_session_subgraph():
    text = graphs.mermaid()
    for node in COURSE_NODES[:1] + COURSE_NODES[2:]:
        assert re.search(rf"\b{node}\b", text), node
    assert "subgraph session" in text
    for node in SESSION_NODES:
        assert f"session\\3a{node}({node})" in text, node
    # After the week the client comes back (plan) or drops out (the course ends).
    assert "record -.-> evolve" in text and "evolve -.-> plan" in text and "evolve -.-> __end__" in text


def test_mermaid_without_xray_and_session_alone():
    collapsed = graphs.mermaid(xray=False)
    assert "session(session)" in collapsed
    assert "counselor_turn" not in collapsed
    session = graphs.session_mermaid()
    for node in SESSION_NODES:
        assert f"{node}({node})" in session
    assert "client_turn -.-> closing" in session and "closing --> __end__" in session


def test_dot_source_is_built_from_langgraph_nodes_and_edges():
    dot = graphs.dot_source()
    assert dot.startswith("digraph course {")
    assert "subgraph cluster_0" in dot and 'label="session"' in dot
    for node in SESSION_NODES:
        assert f'"session:{node}" [label="{node}"]' in dot
    assert '"record" -> "evolve" [style=dashed]' in dot
    assert '"evolve" -> "plan" [style=dashed, constraint=false]' in dot and '"evolve" -> "__end__" [style=dashed]' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot is not installed")
def test_write_png_with_graphviz(tmp_path):
    path = graphs.write_png(tmp_path / "out" / "course.png")
    assert path == tmp_path / "out" / "course.png"
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


def test_write_png_without_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(graphs.shutil, "which", lambda name: None)
    assert graphs.write_png(tmp_path / "course.png") is None
    assert not (tmp_path / "course.png").exists()


def test_stand_in_model_refuses_to_run():
    with pytest.raises(RuntimeError, match="stand-in"):
        graphs.StandInModel().complete([], None)


# --- LangGraph Studio entry point -----------------------------------------------------------------

def test_studio_module_imports_without_side_effects(tmp_path):
    heavy = ("chromadb", "torch", "transformers", "litellm", "langgraph", "sentence_transformers")
    code = ("import sys, muspsy_sim.simulation.studio as s; "
            f"print([m for m in sys.modules if m.split('.')[0] in {heavy!r}]); print(hasattr(s, 'graph'))")
    env = dict(os.environ)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[]", "False"]
    assert list(tmp_path.iterdir()) == []


def test_langgraph_json_names_the_factory():
    spec = json.loads((REPO / "langgraph.json").read_text(encoding="utf-8"))
    assert spec["dependencies"] == ["."]
    file, _, attribute = spec["graphs"]["course"].partition(":")
    assert (REPO / file).resolve() == (REPO / "simulation" / "studio.py").resolve()
    import muspsy_sim.simulation.studio as studio

    assert callable(getattr(studio, attribute))


def test_studio_factory_returns_the_compiled_course_graph(tmp_path):
    from langgraph.graph.state import CompiledStateGraph

    from muspsy_sim.simulation.studio import build_studio_graph

    graph = build_studio_graph(overrides=TEST_DOUBLE, work_dir=tmp_path)
    assert isinstance(graph, CompiledStateGraph)
    assert set(COURSE_NODES) <= set(graph.get_graph().nodes)
    assert graph.checkpointer is None  # the LangGraph server brings its own
    assert (tmp_path / "default" / "manifest.json").is_file()


def test_make_graph_reads_the_config_named_in_the_run_config(tmp_path, monkeypatch):
    import tempfile

    from muspsy_sim.simulation.studio import example_context, example_input, make_graph

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the factory's work directory lands here
    config = scripted_config(tmp_path)
    graph = make_graph({"configurable": {"campaign_config": str(config)}})
    assert set(COURSE_NODES) <= set(graph.get_graph().nodes)
    work = [p for p in tmp_path.iterdir() if p.name.startswith("muspsy-studio-")]
    assert len(work) == 1 and (work[0] / "scripted" / "manifest.json").is_file()
    assert example_context(config)["models"]["counselor"] == "testdouble/scripted"
    assert example_input(config_path=config)["profile"]["id"] == "gad-priya-38"


# --- run inspection -------------------------------------------------------------------------------

def test_overview_lists_clients_and_sessions(run_dir):
    text = text_of(run_overview(run_dir))
    assert "Run scripted" in text and "finished" in text
    for client in CLIENTS:
        assert re.search(rf"{client}\s+│\s+finished 3/3", text), client
    session_cells = re.findall(r"│\s+([123])\s+│\s+7\s+│\s+max_turns", text)
    assert session_cells == ["1", "2", "3", "1", "2", "3"]
    assert "→" in text  # distress start → end


def test_transcript_shows_turns_and_retrieved_memories(run_dir):
    record = next(r for r in _records(run_dir) if r["client_id"] == "gad-priya-38" and r["session_index"] == 2)
    text = text_of(session_transcript(run_dir, "gad-priya-38", 2))
    joined = flat(text)
    assert flat(f"Goal: {record['goal']}") in joined
    assert "Week before:" in text and "first session" not in text
    for turn in record["turns"]:
        assert flat(turn["text"]) in joined
    assert text.count("Counselor (") == sum(t["speaker"] == "counselor" for t in record["turns"])
    assert re.search(r"\[s1 (memory|transcript)\]", text)
    # Every retrieved memory of this session comes from session 1: nothing later can be cited.
    assert not re.search(r"\[s[2-9] ", text)
    for row in ("distress", "trust", "PHQ-9 total", "GAD-7 total", "WAI-SR total"):
        assert row in text


def test_first_session_transcript(run_dir):
    text = text_of(session_transcript(run_dir, "insomnia-david-47", 1))
    assert "first session" in text
    assert "[s" not in text.split("Turns")[1].split("Memory extracted")[0]  # nothing to recall yet


def test_checkpoint_history_of_a_course(run_dir):
    entries = checkpoint_history(run_dir, "gad-priya-38")
    steps = [e["step"] for e in entries]
    assert steps == sorted(steps) and len(set(steps)) == len(steps)
    assert steps[0] == -1 and entries[0]["source"] == "input"
    for index in (1, 2):
        assert any(e["next"] == ("evolve",) and e["session_index"] == index for e in entries), index
    assert any(e["wrote"] == ("session",) and e["next"] == ("report_after",) for e in entries)
    assert entries[-1]["next"] == () and entries[-1]["session_index"] == 3 and entries[-1]["wrote"] == ("record",)
    assert all(e["namespace"] == "" and e["error"] is None for e in entries)
    assert len({e["checkpoint_id"] for e in entries}) == len(entries)
    text = text_of(history_table(entries))
    assert "evolve" in text and entries[-1]["checkpoint_id"] in text


def test_checkpoint_history_with_session_subgraphs(run_dir):
    entries = checkpoint_history(run_dir, "insomnia-david-47", include_subgraphs=True)
    inner = [e for e in entries if e["namespace"]]
    assert {e["namespace"].partition(":")[0] for e in inner} == {"session"}
    assert len({e["namespace"] for e in inner}) == 3
    assert {e["session_index"] for e in inner} == {1, 2, 3}
    assert any(e["next"] == ("closing",) for e in inner)
    assert "session" in text_of(history_table(entries))


def test_unknown_client_or_session(run_dir, tmp_path):
    with pytest.raises(InputError) as error:
        session_transcript(run_dir, "nobody-00", 1)
    assert error.value.field == "--client" and "gad-priya-38" in error.value.message
    with pytest.raises(InputError) as error:
        checkpoint_history(run_dir, "nobody-00")
    assert error.value.field == "--client"
    with pytest.raises(InputError) as error:
        session_transcript(run_dir, "gad-priya-38", 4)
    assert error.value.field == "--session" and "1, 2, 3" in error.value.message
    with pytest.raises(InputError):
        run_overview(tmp_path)
