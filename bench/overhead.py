"""Orchestration overhead per simulated turn, against a bare LangGraph turn loop; and a whole command's start-up.

Runs a real campaign (prepare_campaign / run_campaign, the scripted test double
for every role, a temporary run directory) and times each simulated turn (one
counselor turn and one client turn, with their graph steps, checkpoints and
memory reads) minus the time of the model calls (as the usage "seconds" count
them) and inside the embedder. The test double answers in process, in microseconds,
so a model call's time is the routing's own cost per request: reported on its own
line, beside what a request through ``litellm.completion`` costs (every API model's
path; measured on the test double registered with LiteLLM). The baseline, measured in
the same process, is a bare two-node LangGraph loop checkpointed by SqliteSaver with the
campaign's own SQLite settings (``open_checkpointer``: WAL, synchronous=NORMAL, the strict
serializer).

Start-up (``startup.py``): the whole ``run`` command of a 1 client x 1 session campaign in
fresh processes, on the test double and against the mock OpenAI-compatible server (the
LiteLLM path), beside LiteLLM's own import.

    python run_sim.py bench overhead [--quick] [--clients 4 --sessions 3 --turns 8] [--no-startup]
"""

from __future__ import annotations

import operator
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, TypedDict

from muspsy_sim.agents.client.simulated_client import SimulatedClient
from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.agents.llm.providers.registration import IN_PROCESS_ANSWERS, litellm_with_providers
from muspsy_sim.agents.llm.routing import LiteLLMModel
from muspsy_sim.memory.embeddings import MiniLMEmbedder
from muspsy_sim.scenarios.loader import LIBRARY_DIR, load_library
from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.config import CampaignConfig
from muspsy_sim.simulation.engine import components  # its shared_embedder is replaced while a benchmark runs
from muspsy_sim.simulation.engine.checkpointers import open_checkpointer

from .common import BenchParser, HashingEmbedder, Stopwatch, TimedEmbedder, header, p50_p90, percentile, ratio, verdict
from .startup import print_startup

TARGET_MS = 5.0


class State(TypedDict):
    """The baseline loop's state (module level: LangGraph resolves its annotations by name)."""

    turns: Annotated[list[dict], operator.add]


class TurnClock:
    """ProgressEvents that timestamps each client turn with the model and embedding totals so far.

    Courses run one at a time (workers=1), so the interval between two turns of a
    session belongs to that session alone.
    """

    def __init__(self, model_watch: Stopwatch, embed_watch: Stopwatch, provider_watch: Stopwatch | None = None) -> None:
        self.model_watch, self.provider_watch = model_watch, provider_watch or Stopwatch()
        self.watches = (model_watch, embed_watch)
        self.turn_ms: list[float] = []  # wall - model - embedding, per turn
        self.turn_wall_ms: list[float] = []
        # Model time less the provider's own, and calls, inside turn intervals (one request at a time):
        # the routing's cost per request, free of the questionnaires' concurrent requests waiting for each other.
        self.routing_seconds = 0.0
        self.routing_calls = 0
        self.turns = 0
        self._last = None
        self._calls = None

    def _now(self) -> tuple[float, ...]:
        return (time.perf_counter(), *(watch.seconds for watch in self.watches))

    def _mark(self) -> tuple[float, float, int]:
        return self.model_watch.seconds, self.provider_watch.seconds, self.model_watch.calls

    def routing_ms_per_request(self) -> float:
        return self.routing_seconds * 1000 / max(1, self.routing_calls)

    def session_started(self, client_id: str, session_index: int) -> None:
        self._last = None  # the first turn follows planning and questionnaires: not a turn interval

    def turn_done(self, client_id: str) -> None:
        now, mark = self._now(), self._mark()
        self.turns += 1
        if self._last is not None:
            wall, model, embed = (a - b for a, b in zip(now, self._last))
            self.turn_wall_ms.append(wall * 1000)
            self.turn_ms.append((wall - model - embed) * 1000)
            model_s, provider_s, calls = (a - b for a, b in zip(mark, self._calls))
            self.routing_seconds += model_s - provider_s
            self.routing_calls += calls
        self._last, self._calls = now, mark

    def session_finished(self, client_id: str, session_index: int, client_turns: int) -> None:
        self._last = None

    def course_ended(self, client_id: str, sessions_held: int) -> None:
        pass


def bare_langgraph_turns(turns: int, directory: Path) -> list[float]:
    """Milliseconds per turn of a two-node (counselor, client) loop with SqliteSaver: the baseline.

    Its checkpointer is the campaign's (``open_checkpointer``): the same SQLite settings and serializer.
    """
    # lazy: langgraph; only the baseline loop uses it directly
    from langgraph.graph import END, START, StateGraph

    stamps: list[float] = []

    def counselor(state: State) -> dict:
        return {"turns": [{"speaker": "counselor", "text": "How was your week?"}]}

    def client(state: State) -> dict:
        stamps.append(time.perf_counter())
        return {"turns": [{"speaker": "client", "text": "It was hard, but I tried."}]}

    def route(state: State) -> str:
        return END if len(state["turns"]) >= 2 * turns else "counselor"

    graph = StateGraph(State)
    graph.add_node("counselor", counselor)
    graph.add_node("client", client)
    graph.add_edge(START, "counselor")
    graph.add_edge("counselor", "client")
    graph.add_conditional_edges("client", route, ["counselor", END])
    config = CampaignConfig.model_validate({"name": "baseline", "scenarios": ["baseline"]})
    baseline_dir = directory / "baseline"
    baseline_dir.mkdir(parents=True, exist_ok=True)
    with open_checkpointer(config, baseline_dir) as checkpointer:
        compiled = graph.compile(checkpointer=checkpointer)
        compiled.invoke({"turns": []}, {"configurable": {"thread_id": "baseline"}, "recursion_limit": 10 * turns + 10})
    return [(b - a) * 1000 for a, b in zip(stamps, stamps[1:])]


@dataclass
class TimedCampaign:
    clock: TurnClock
    wall_seconds: float
    model: Stopwatch  # LiteLLMModel calls: what the usage "seconds" count
    embedder: TimedEmbedder
    questionnaires: Stopwatch  # the client's self-reports (PHQ-9, GAD-7, WAI-SR, PANAS)
    provider: Stopwatch  # inside the in-process provider (the test double's own time)
    litellm: Stopwatch  # inside litellm.completion (API models; timed with ``through_litellm``)
    sessions: int = 0  # finished sessions


@contextmanager
def _instrumented(timed: TimedCampaign, through_litellm: bool):
    """Time model calls, the in-process providers, questionnaires and (``through_litellm``) litellm.completion;
    hand build_components our embedder."""
    answers = dict(IN_PROCESS_ANSWERS)
    litellm = litellm_with_providers() if through_litellm else None
    completion = litellm.completion if litellm is not None else None
    originals = (LiteLLMModel.send, components.shared_embedder, SimulatedClient.answer_questionnaires)
    LiteLLMModel.send = timed.model.wrap(originals[0])
    components.shared_embedder = lambda: timed.embedder
    SimulatedClient.answer_questionnaires = timed.questionnaires.wrap(originals[2])
    for provider, answer in answers.items():
        IN_PROCESS_ANSWERS[provider] = timed.provider.wrap(answer)
    if litellm is not None:
        litellm.completion = timed.litellm.wrap(completion)
    try:
        yield
    finally:
        LiteLLMModel.send, components.shared_embedder, SimulatedClient.answer_questionnaires = originals
        IN_PROCESS_ANSWERS.update(answers)
        if litellm is not None:
            litellm.completion = completion


def litellm_per_request(requests: int) -> tuple[float, float]:
    """Milliseconds per request: through ``litellm.completion`` (its logging awaited), and the same answer in
    process (what the test double itself costs); the difference is what LiteLLM adds to every API request."""
    litellm = litellm_with_providers()
    messages = [{"role": "system", "content": "You are a counselor."}, {"role": "user", "content": "I feel tense."}]
    params = {"max_tokens": 48, "temperature": 0.5, "seed": 1}

    def through_litellm():
        litellm.completion(model="testdouble/scripted", messages=messages, drop_params=True, num_retries=0,
                           **params)

    def in_process():
        IN_PROCESS_ANSWERS["testdouble"]("scripted", messages, params)

    timings = []
    for call in (through_litellm, in_process):
        for _ in range(5):  # warm caches and connections
            call()
        started = time.perf_counter()
        for _ in range(requests):
            call()
        timings.append((time.perf_counter() - started) * 1000 / requests)
    return timings[0], timings[1]


def campaign_config(name: str, directory: Path, clients: int, sessions: int, turns: int, counselor: str,
                    models: dict, **extra):
    return CampaignConfig.model_validate({
        "name": name,
        "scenarios": sorted(load_library(LIBRARY_DIR))[:clients],
        "scenario_dir": str(LIBRARY_DIR),
        "sessions": sessions,
        "max_turns": turns,
        "counselor": counselor,
        "models": models,
        "workers": 1,  # one course at a time: each turn interval belongs to one course
        "output_dir": str(directory / "runs"),
        **extra,
    })


def make_embedder(real: bool):
    if not real:
        return HashingEmbedder()
    inner = MiniLMEmbedder()
    inner.embed(["warm up"])  # load the model before timing
    return inner


def run_campaign_timed(config, embedder, through_litellm: bool = False) -> TimedCampaign:
    """Run ``config`` through prepare_campaign / run_campaign, timing each turn and what it spent where
    (``through_litellm``: the models are API models, and the time inside litellm.completion is timed too)."""
    timed = TimedCampaign(None, 0.0, Stopwatch(), TimedEmbedder(embedder), Stopwatch(), Stopwatch(), Stopwatch())
    timed.clock = TurnClock(timed.model, timed.embedder.watch, timed.provider)
    with _instrumented(timed, through_litellm):
        plan = prepare_campaign(config, config.name)
        started = time.perf_counter()
        result = run_campaign(plan, timed.clock)
        timed.wall_seconds = time.perf_counter() - started
    timed.sessions = len(result.sessions)
    if result.status != "finished":
        raise RuntimeError(f"benchmark campaign failed: {result.courses}")
    return timed


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="bench overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A small campaign (for smoke tests).")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--sessions", type=int, default=3)
    parser.add_argument("--turns", type=int, default=10, help="Client turns per session.")
    parser.add_argument("--counselor", default="muspsy", help="muspsy, no-memory or full-history.")
    parser.add_argument("--baseline-turns", type=int, default=300)
    parser.add_argument("--real-embedder", action="store_true", help="Use MiniLM (its time is still subtracted).")
    parser.add_argument("--no-startup", action="store_true", help="Skip the whole commands' start-up.")
    parser.add_argument("--startup-repeats", type=int, default=3, help="Fresh processes per start-up figure.")
    parser.add_argument("--startup-local", action="store_true",
                        help="Also the embedded model's start-up (loads SmolLM2; slow).")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.sessions, args.turns, args.baseline_turns = 2, 2, 4, 60
        args.startup_repeats = 1

    configure_offline_environment()
    header("orchestration overhead per simulated turn")
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        directory = Path(tmp)
        baseline = bare_langgraph_turns(args.baseline_turns, directory)
        models = {role: {"model": "testdouble/scripted"} for role in ("counselor", "client", "judge")}
        config = campaign_config("bench-overhead", directory, args.clients, args.sessions, args.turns,
                                 args.counselor, models)
        timed = run_campaign_timed(config, make_embedder(args.real_embedder))
    clock, model = timed.clock, timed.model
    per_turn_ms = percentile(clock.turn_ms, 50)
    base_ms = percentile(baseline, 50)
    print(f"campaign: {args.clients} clients x {args.sessions} sessions x {args.turns} turns, counselor "
          f"{args.counselor}, test double for every role, courses one at a time; embedder: "
          + ("MiniLM (time subtracted)" if args.real_embedder else "zero-cost hashing stand-in (time subtracted)"))
    print(f"  per turn, excluding model and embedding: {p50_p90(clock.turn_ms)}")
    print(f"  per turn, wall: {p50_p90(clock.turn_wall_ms)}")
    litellm_ms, in_process_ms = litellm_per_request(40 if args.quick else 300)
    print(f"  routing per request, subtracted above: {clock.routing_ms_per_request():.2f} ms (turn requests, one at a "
          f"time, in process: LiteLLMModel's own work, less the test double's "
          f"{timed.provider.seconds * 1000 / max(1, timed.provider.calls):.3f} ms). All {model.calls} calls: "
          f"{model.seconds * 1000 / max(1, model.calls):.2f} ms each (questionnaire items run 8 at a time)")
    print(f"  through litellm.completion instead (every API model's path): {litellm_ms:.2f} ms per request against "
          f"{in_process_ms:.3f} ms in process for the same answer: LiteLLM adds {litellm_ms - in_process_ms:.2f} ms")
    print(f"  whole campaign: {timed.wall_seconds:.2f} s wall for {clock.turns} client turns "
          f"({timed.wall_seconds * 1000 / max(1, clock.turns):.1f} ms per turn with everything between turns: "
          f"goal planning, questionnaires ({timed.questionnaires.seconds:.2f} s), memory extraction, records; "
          f"model time included)")
    print(f"baseline: bare LangGraph 2-node turn with SqliteSaver (the campaign's SQLite settings): {p50_p90(baseline)}")
    print(f"ratio (median per turn / baseline median): {ratio(per_turn_ms, base_ms)}")
    print(verdict("overhead median per turn", per_turn_ms, TARGET_MS))
    if not args.no_startup:
        print_startup(args.startup_repeats, local=args.startup_local)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
