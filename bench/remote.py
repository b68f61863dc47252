"""Milliseconds per simulated turn against an OpenAI-compatible server that answers instantly.

Counselor and client are ``openai/<name>`` with ``api_base`` = the server (a
dummy key comes from the environment). Measured with retrieval off (MusPsy with
``memory.top_k: 0``) and on (MusPsy with the Chroma store and MiniLM), plus the
start-up time of a fresh process up to its first simulated turn. Baseline, same
run and server: two bare ``litellm.completion`` requests per turn (the shape of a
peer framework driven the same way). Questionnaire requests (the client's
PHQ-9, GAD-7, WAI-SR and PANAS answers: by likelihood, one one-token request per
item, since the mock server returns log-probabilities) fall between turns and are
reported on their own, per finished session. ``bench cost`` counts what the
scoring methods cost.

    python run_sim.py bench remote [--url http://127.0.0.1:PORT/v1] [--quick]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.agents.llm.providers.registration import litellm_with_providers
from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.engine import components  # its shared_embedder is replaced while a benchmark runs
from muspsy_sim.simulation.engine.states import NoProgress

from .common import BenchParser, HashingEmbedder, header, p50_p90, percentile, ratio, repository_root
from .overhead import campaign_config, make_embedder, run_campaign_timed
from .servers import DUMMY_KEY, MOCK_SERVER, dummy_api_key, server_stats, serving

PEER_MS = 13.4  # the peer framework's figure from the issue, for reference only


def _models(url: str) -> dict:
    return {role: {"model": f"openai/mock-{role}", "api_base": url} for role in ("counselor", "client", "judge")}


def peer_turns(url: str, turns: int) -> list[float]:
    """The baseline: milliseconds per turn of two bare litellm.completion requests."""
    litellm = litellm_with_providers()
    messages = [{"role": "system", "content": "You are a counselor."}, {"role": "user", "content": "I feel tense."}]
    times = []
    for i in range(turns + 3):
        started = time.perf_counter()
        for role in ("counselor", "client"):
            litellm.completion(model=f"openai/mock-{role}", messages=messages, api_base=url, max_tokens=48)
        if i >= 3:  # the first requests open connections and warm caches
            times.append((time.perf_counter() - started) * 1000)
    return times


def _campaign(url: str, directory: Path, args, top_k: int, real_embedder: bool):
    config = campaign_config(f"bench-remote-k{top_k}", directory, args.clients, args.sessions, args.turns, "muspsy",
                             _models(url), memory={"top_k": top_k})
    before = server_stats(url).get("by_kind", {})
    timed = run_campaign_timed(config, make_embedder(real_embedder), through_litellm=True)
    after = server_stats(url).get("by_kind", {})
    requests = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in after}
    return timed, requests


def _startup(url: str, directory: Path, args) -> dict:
    """A fresh process: seconds from its start to the first simulated turn (imports, setup, first session)."""
    spec = json.dumps({"url": url, "directory": str(directory), "embedder": args.embedder})
    environment = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY}
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "muspsy_sim.bench.remote", "--startup-child", spec, str(started)],
                          capture_output=True, text=True, env=environment, cwd=str(repository_root()), timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"start-up child failed: {done.stderr[-2000:]}")
    return json.loads(lines[-1])


def _startup_child(spec: str, started: float) -> int:
    """Runs in the fresh process: one session, printing when each stage was reached."""
    # The project's modules are imported at this module's top, so they count in "imports".
    marks = {"interpreter": time.time() - started}
    configure_offline_environment()
    marks["imports"] = time.time() - started
    options = json.loads(spec)
    config = campaign_config("bench-remote-startup", Path(options["directory"]), 1, 1, 1, "muspsy",
                             _models(options["url"]))
    if options["embedder"] == "hash":
        embedder = HashingEmbedder()
        components.shared_embedder = lambda: embedder

    class FirstTurn(NoProgress):
        def session_started(self, client_id: str, session_index: int) -> None:
            marks.setdefault("session_started", time.time() - started)

        def turn_done(self, client_id: str) -> None:
            marks.setdefault("first_turn", time.time() - started)

    run_campaign(prepare_campaign(config, "startup"), FirstTurn())
    print(json.dumps(marks))
    return 0


def _print_campaign(label: str, timed, requests: dict, peer_ms: float) -> None:
    clock = timed.clock
    print(f"{label}: per turn (2 requests + orchestration{', retrieval' if 'on' in label else ''}): "
          f"{p50_p90(clock.turn_wall_ms)}  ratio to baseline {ratio(percentile(clock.turn_wall_ms, 50), peer_ms)}")
    print(f"    of which orchestration (wall - model - embedding): {p50_p90(clock.turn_ms)}; model calls "
          f"{timed.model.seconds * 1000 / max(1, timed.model.calls):.2f} ms each ({timed.model.calls} calls, "
          f"{timed.litellm.seconds * 1000 / max(1, timed.litellm.calls):.2f} ms inside litellm.completion); "
          f"embedding {timed.embedder.seconds * 1000 / max(1, timed.embedder.watch.calls):.2f} ms per call")
    sessions = max(1, timed.sessions)  # finished sessions (the last one's exit assessment is a third report)
    print(f"    questionnaires, between turns: {timed.questionnaires.seconds / sessions:.2f} s per session; server "
          f"requests by kind over the whole campaign: {json.dumps(requests, sort_keys=True)}")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--startup-child"]:
        return _startup_child(argv[1], float(argv[2]))
    parser = BenchParser(prog="bench remote", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL (…/v1); default: start the mock server.")
    parser.add_argument("--server-script", type=Path, default=MOCK_SERVER, help="The mock server to start.")
    parser.add_argument("--quick", action="store_true", help="A small campaign, hashing embedder, no start-up run.")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--turns", type=int, default=10, help="Client turns per session.")
    parser.add_argument("--peer-turns", type=int, default=200)
    parser.add_argument("--embedder", choices=("minilm", "hash"), default="minilm")
    parser.add_argument("--no-startup", action="store_true", help="Skip the fresh-process start-up measurement.")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.sessions, args.turns, args.peer_turns, args.embedder = 1, 2, 3, 30, "hash"
        args.no_startup = True
    if not args.url and not args.server_script.is_file():
        print(f"error: no --url given and no mock server at {args.server_script}", file=sys.stderr)
        return 2

    configure_offline_environment()
    header("remote model: ms per simulated turn against an instant OpenAI-compatible server")
    with dummy_api_key(), serving(args.url, args.server_script) as url, \
            tempfile.TemporaryDirectory(prefix="bench-remote-") as tmp:
        print(f"server: {url}; campaign: {args.clients} clients x {args.sessions} sessions x {args.turns} turns, "
              f"MusPsy counselor, embedder {args.embedder}, courses one at a time")
        peer = peer_turns(url, args.peer_turns)
        peer_ms = percentile(peer, 50)
        off, off_requests = _campaign(url, Path(tmp) / "off", args, top_k=0, real_embedder=False)
        on, on_requests = _campaign(url, Path(tmp) / "on", args, top_k=3, real_embedder=args.embedder == "minilm")
        startup = None if args.no_startup else _startup(url, Path(tmp) / "startup", args)
    print(f"baseline: 2 bare litellm.completion requests per turn: {p50_p90(peer)} "
          f"(the issue's peer framework: {PEER_MS} ms)")
    _print_campaign("retrieval off (top_k 0)", off, off_requests, peer_ms)
    _print_campaign("retrieval on (top_k 3, Chroma)", on, on_requests, peer_ms)
    off_ms, on_ms = percentile(off.clock.turn_wall_ms, 50), percentile(on.clock.turn_wall_ms, 50)
    print(f"targets: retrieval off <= half the baseline ({peer_ms / 2:.2f} ms): "
          f"{'met' if off_ms <= peer_ms / 2 else 'NOT met'} ({off_ms:.2f} ms); retrieval on <= the baseline "
          f"({peer_ms:.2f} ms): {'met' if on_ms <= peer_ms else 'NOT met'} ({on_ms:.2f} ms)")
    if startup:
        print(f"start-up, fresh process to first simulated turn: {startup['first_turn']:.2f} s (imports done at "
              f"{startup['imports']:.2f} s, first session started at {startup['session_started']:.2f} s; the "
              f"session's opening questionnaires come before its first turn; the issue's peer: 5.1 s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
