"""Drawing the course and session graphs: Mermaid text, Graphviz DOT, and a PNG when ``dot`` is installed.

The graphs are built with stand-in agents: the graph factories only store the
agents they are given, so no model, embedder or Chroma store is loaded, and
nothing here touches the network (LangGraph's ``draw_mermaid_png`` would call
a web service; it is never used).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from langgraph.graph import StateGraph
from langgraph.graph.state import CompiledStateGraph

from muspsy_sim.agents.client.simulated_client import SimulatedClient
from muspsy_sim.agents.counselor.registry import build_counselor
from muspsy_sim.agents.llm import Sampling

from ..engine.course_graph import build_course_graph
from ..engine.session_graph import build_session_graph
from ..record.schema import SessionRecord

STAND_IN_MODEL = "stand-in/drawing-only"


class StandInModel:
    """A ``LanguageModel`` that only exists to be stored: any call is a bug."""

    model = STAND_IN_MODEL

    def complete(self, messages, sampling):
        raise RuntimeError("stand-in model: this graph was built for drawing or inspection, not for running")

    def score_choices(self, messages, choices, seed=None):
        raise RuntimeError("stand-in model: this graph was built for drawing or inspection, not for running")


class StandInRecorder:
    """A ``SessionRecorder`` that records nothing."""

    def append_session(self, record: SessionRecord) -> bool:
        return False


def stand_in_agents(counselor: str = "muspsy"):
    """(counselor, client) built on ``StandInModel``; the course graph's shape does not depend on them."""
    model = StandInModel()
    return (build_counselor(counselor, llm=model, sampling=Sampling(), store=None),
            SimulatedClient(model, Sampling()))


def course_graph_for_drawing() -> StateGraph:
    """The course graph (an uncompiled ``StateGraph``) over stand-in agents."""
    counselor, client = stand_in_agents()
    return build_course_graph(counselor, client, None, StandInRecorder())


def session_graph_for_drawing() -> StateGraph:
    """The session graph (an uncompiled ``StateGraph``) over stand-in agents."""
    return build_session_graph(*stand_in_agents())


def compiled_course_graph(checkpointer=None) -> CompiledStateGraph:
    """The course graph compiled over stand-in agents, e.g. to read a run's checkpoints."""
    return course_graph_for_drawing().compile(checkpointer=checkpointer)


def _drawable(xray: bool):
    return compiled_course_graph().get_graph(xray=1 if xray else 0)


def mermaid(xray: bool = True) -> str:
    """Mermaid text of the course graph; with ``xray`` the session subgraph is drawn expanded."""
    return _drawable(xray).draw_mermaid()


def session_mermaid() -> str:
    """Mermaid text of the session graph alone."""
    return session_graph_for_drawing().compile().get_graph().draw_mermaid()


# --- Graphviz -------------------------------------------------------------------------------------

def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _node_line(node_id: str, name: str) -> str:
    if name == "__start__":
        return f"{_quote(node_id)} [label=start, shape=circle, style=filled, fillcolor=black, fontcolor=white, fixedsize=true, width=0.6, fontsize=10];"
    if name == "__end__":
        return f"{_quote(node_id)} [label=end, shape=doublecircle, style=filled, fillcolor=\"#bfb6fc\", fixedsize=true, width=0.6, fontsize=10];"
    return f"{_quote(node_id)} [label={_quote(name)}];"


def _back_edges(edges) -> set[tuple[str, str]]:
    """Edges that close a cycle (found by depth-first search from the start), drawn without ranking weight."""
    children: dict[str, list[str]] = {}
    for edge in edges:
        children.setdefault(edge.source, []).append(edge.target)
    # Visit the straight-through successor before loop-backs, so the main path ranks downwards.
    for targets in children.values():
        targets.sort(key=lambda t: (t.endswith("__end__"), t))
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1: on the stack, 2: done

    def visit(node: str) -> None:
        state[node] = 1
        for target in children.get(node, []):
            if state.get(target) == 1:
                back.add((node, target))
            elif target not in state:
                visit(target)
        state[node] = 2

    for root in ["__start__", *children]:
        if root not in state:
            visit(root)
    return back


def dot_source(xray: bool = True) -> str:
    """Graphviz DOT text of the course graph (the session subgraph as a cluster when ``xray``).

    Built from LangGraph's own node and edge lists, so it needs no pygraphviz.
    Conditional edges are dashed; edges that loop back do not pull the layout upwards.
    """
    drawable = _drawable(xray)
    top: list[str] = []
    clusters: dict[str, list[str]] = {}
    for node_id, node in drawable.nodes.items():
        prefix, sep, _ = node_id.rpartition(":")
        line = _node_line(node_id, node.name)
        (clusters.setdefault(prefix, []) if sep else top).append(line)
    lines = [
        "digraph course {",
        '  graph [rankdir=TB, fontname="Helvetica", labeljust=l];',
        '  node [shape=box, style="rounded,filled", fillcolor="#f2f0ff", fontname="Helvetica"];',
        '  edge [fontname="Helvetica"];',
    ]
    lines += [f"  {line}" for line in top]
    for index, (prefix, members) in enumerate(sorted(clusters.items())):
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_quote(prefix)}; style=dashed; color=gray40;")
        lines += [f"    {line}" for line in members]
        lines.append("  }")
    back = _back_edges(drawable.edges)
    for edge in drawable.edges:
        attributes = ["style=dashed"] if edge.conditional else []
        if (edge.source, edge.target) in back:
            attributes.append("constraint=false")
        if edge.data is not None:
            attributes.append(f"label={_quote(str(edge.data))}")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  {_quote(edge.source)} -> {_quote(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_png(path: str | Path, xray: bool = True) -> Path | None:
    """Render the course graph to a PNG at ``path`` with Graphviz; None when ``dot`` is not on PATH.

    Raises RuntimeError when ``dot`` is there but fails.
    """
    executable = shutil.which("dot")
    if executable is None:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run([executable, "-Tpng", "-o", str(path)], input=dot_source(xray).encode("utf-8"),
                       capture_output=True, check=True, timeout=120)
    except subprocess.CalledProcessError as error:
        message = error.stderr.decode("utf-8", "replace").strip() or f"exit status {error.returncode}"
        raise RuntimeError(f"Graphviz dot failed: {message}") from None
    except subprocess.TimeoutExpired:
        raise RuntimeError("Graphviz dot did not finish within 120 s") from None
    return path
