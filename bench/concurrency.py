"""API-bound concurrency: how campaign speed grows with workers when every model answers after a delay.

Every role (counselor, client, judge) is ``openai/mock-<role>`` on the mock OpenAI-compatible server
(bench/mock_openai_server.py), which answers each request ``--latency`` seconds (default 0.3) late, in
parallel, no two answers alike: model latency alone would let W workers run W times as fast as one. The campaign is the
default campaign's settings (configs/default.yaml: the MusPsy counselor retrieving from the embedded
Chroma store with MiniLM, latent self-reports) over 64 clients × 1 session, run with 8 and 32
workers; the baseline, in the same run, is 1 worker on 8 of those clients (courses per second is a
rate, so it compares). For each it prints courses per second, the speed-up over one worker against
the target (at least 0.75 × workers), the mean time a request took as the campaign saw it against
the server's own time per request (target: within 10%), and this process's CPU time per course.

    python run_sim.py bench concurrency [--workers 1,8,32] [--courses 64] [--latency 0.3] [--quick]
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.memory.embeddings import shared_embedder
from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.config import load_config

from .common import (
    BenchParser,
    HashingEmbedder,
    campaigns_embed_with,
    header,
    load_average,
    repository_root,
    whole_numbers,
)
from .scale import write_clients
from .servers import MOCK_SERVER, chroma_server, dummy_api_key, server_stats, serving

TARGET_EFFICIENCY = 0.75  # speed-up at least this share of the workers
TARGET_LATENCY = 1.10  # a request as the campaign sees it, at most this multiple of the server's own time
BASELINE_COURSES = 8


@dataclass
class Measured:
    workers: int
    courses: int
    wall_seconds: float
    cpu_seconds: float
    requests: int  # as the campaign's usage counts them
    request_seconds: float  # their total time, as the campaign saw it
    server_requests: int
    server_seconds: float  # the server's own time on them, latency included

    @property
    def courses_per_second(self) -> float:
        return self.courses / self.wall_seconds

    @property
    def request_ms(self) -> float:
        return self.request_seconds * 1000 / max(1, self.requests)

    @property
    def server_ms(self) -> float:
        return self.server_seconds * 1000 / max(1, self.server_requests)


def run_workers(url: str, directory: Path, clients: list[str], workers: int, client_dir: Path,
                chroma_url: str | None = None) -> Measured:
    models = {f"models.{role}.model": f"openai/mock-{role}" for role in ("counselor", "client", "judge")}
    models.update({f"models.{role}.api_base": url for role in ("counselor", "client", "judge")})
    config = load_config(repository_root() / "configs" / "default.yaml", {
        "name": f"concurrency-{workers}", "scenarios": clients, "scenario_dir": str(client_dir),
        "output_dir": str(directory / "runs"), "workers": workers, "sessions": 1, "memory.chroma_url": chroma_url,
        **models})
    plan = prepare_campaign(config, "bench concurrency")
    before = server_stats(url)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run_campaign(plan)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    after = server_stats(url)
    if result.status != "finished":
        raise RuntimeError(f"the campaign with {workers} workers ended {result.status}: {result.courses}")
    calls = sum(fields.calls for fields in result.usage.values())
    seconds = sum(fields.seconds for fields in result.usage.values())
    return Measured(workers, len(clients), wall, cpu, calls, seconds,
                    after.get("requests", 0) - before.get("requests", 0),
                    after.get("seconds", 0.0) - before.get("seconds", 0.0))


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="bench concurrency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=whole_numbers, default="8,32",
                        help="Worker counts to measure (1 is always the baseline).")
    parser.add_argument("--courses", type=int, default=64, help="Client courses (1 session each) per worker count.")
    parser.add_argument("--latency", type=float, default=0.3, help="Seconds the mock server takes per request.")
    parser.add_argument("--url", help="An OpenAI-compatible server to use instead of the mock (its own latency).")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default="minilm")
    parser.add_argument("--chroma-server", action="store_true",
                        help="Keep memories in a Chroma server (started for the run) rather than the embedded store.")
    parser.add_argument("--quick", action="store_true", help="8 courses, workers 4, 0.05 s latency (a smoke run).")
    args = parser.parse_args(argv)
    if args.quick:
        args.workers, args.courses, args.latency, args.embedder = [4], 8, 0.05, "hash"
    counts = sorted(set(args.workers) - {1})
    if args.courses < 1 or args.latency < 0 or any(w < 1 for w in counts):
        parser.error("courses, workers and latency must be positive")

    configure_offline_environment()
    header("concurrency: campaign speed-up with workers against a model server that answers late")
    embedder = HashingEmbedder() if args.embedder == "hash" else shared_embedder()
    if args.embedder == "minilm":
        embedder.embed(["warm up"])  # load the model before timing
    with campaigns_embed_with(embedder):
        return _measure(args, counts)


def _measure(args, counts: list[int]) -> int:
    # Answers that differ, as a model's do: the same sentence every time would let caches of texts
    # (the embedder's) skip work a real campaign does.
    with dummy_api_key(), serving(args.url, MOCK_SERVER, args.latency, vary=True) as url, \
            tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp, contextlib.ExitStack() as services:
        directory = Path(tmp)
        chroma_url = services.enter_context(chroma_server(directory / "chroma")) if args.chroma_server else None
        client_dir = directory / "clients"
        clients = write_clients(client_dir, args.courses)
        print(f"server: {url}{f', answering after {args.latency} s' if not args.url else ''}; campaign: "
              f"configs/default.yaml, every role openai/mock-*, 1 session per course, embedder {args.embedder}, "
              f"memories in {'a Chroma server' if chroma_url else 'the embedded Chroma store'}")
        run_workers(url, directory / "warm-up", clients[:2], 2, client_dir, chroma_url)  # imports, first uses
        baseline = run_workers(url, directory / "w1", clients[:BASELINE_COURSES], 1, client_dir, chroma_url)
        results = [run_workers(url, directory / f"w{w}", clients, w, client_dir, chroma_url) for w in counts]
    print(f"baseline: 1 worker, {baseline.courses} courses: {baseline.courses_per_second:.3f} courses/s; a request "
          f"{baseline.request_ms:.0f} ms as the campaign saw it, {baseline.server_ms:.0f} ms in the server; CPU "
          f"{baseline.cpu_seconds * 1000 / baseline.courses:.0f} ms per course")
    for measured in results:
        speedup = measured.courses_per_second / baseline.courses_per_second
        latency = measured.request_ms / max(1e-9, measured.server_ms)
        print(f"{measured.workers:>3} workers, {measured.courses} courses: {measured.wall_seconds:.1f} s, "
              f"{measured.courses_per_second:.3f} courses/s, speed-up {speedup:.1f}x (target >= "
              f"{TARGET_EFFICIENCY * measured.workers:.1f}x: {'met' if speedup >= TARGET_EFFICIENCY * measured.workers else 'NOT met'}); "
              f"a request {measured.request_ms:.0f} ms vs {measured.server_ms:.0f} ms in the server ({latency:.2f}x, "
              f"target <= {TARGET_LATENCY:.2f}x: {'met' if latency <= TARGET_LATENCY else 'NOT met'}); CPU "
              f"{measured.cpu_seconds * 1000 / measured.courses:.0f} ms per course; load {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
