"""Throughput of the embedded local model: batched concurrent courses versus one request at a time.

``campaign``: the default campaign (configs/default.yaml: its counselor, turns and model
settings), one session per course, for N client courses (default 16) run concurrently with the
batched ``local/`` provider, against the same work with max batch 1 and one worker (one request at
a time), measured in the same process, each with its own prefix cache. Generated tokens are the
sessions' recorded completion tokens (questionnaire scoring calls count one token each). The
baseline may run on a subset of the clients (``--baseline-clients``): tokens/s is a rate, so it
compares; the output says so.
``micro``: the local provider's batcher serving 16 same-length requests one at a time versus together.

    python -m muspsy_sim.bench.throughput [--mode campaign|micro|all] [--quick]
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from muspsy_sim.agents.llm import ModelSpec
from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.agents.llm.local.loading import load_local_model
from muspsy_sim.agents.llm.local.requests import GenerationRequest
from muspsy_sim.agents.llm.local.resolution import resolve_local_model
from muspsy_sim.agents.llm.local.settings import BatchSettings
from muspsy_sim.scenarios.loader import load_library
from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.config import load_config
from muspsy_sim.simulation.core.provenance import available_cores

from .common import BenchParser, header, load_average, ratio, repository_root

MODEL = "local/smollm2-135m-instruct"


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="bench throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("campaign", "micro", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="4 clients, tiny outputs: a smoke run, not a measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client courses (batched run)")
    parser.add_argument("--baseline-clients", type=int, default=4, help="courses in the one-at-a-time baseline")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=1, help="sessions per course")
    parser.add_argument("--max-tokens", type=int, default=None,
                        help="counselor/client turn length (default: the default campaign's)")
    parser.add_argument("--prompt-tokens", type=int, default=300, help="micro: prompt length")
    parser.add_argument("--new-tokens", type=int, default=32, help="micro: tokens generated per request")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.baseline_clients, args.max_tokens, args.prompt_tokens, args.new_tokens = 4, 1, 8, 120, 8
        args.max_turns = 1
    else:
        args.max_turns = None
    if min(args.clients, args.baseline_clients, args.max_batch, args.max_tokens or 1, args.prompt_tokens,
           args.new_tokens, args.sessions) < 1:
        parser.error("sizes must be positive")

    configure_offline_environment()
    header("throughput: batched local model vs one request at a time")
    if args.mode in ("micro", "all"):
        _micro(args)
    if args.mode in ("campaign", "all"):
        _campaign(args)
    return 0


@contextmanager
def _batching(max_batch: int):
    previous = os.environ.get("MUSPSY_LOCAL_MAX_BATCH")
    os.environ["MUSPSY_LOCAL_MAX_BATCH"] = str(max_batch)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("MUSPSY_LOCAL_MAX_BATCH", None)
        else:
            os.environ["MUSPSY_LOCAL_MAX_BATCH"] = previous


def _loaded_model():
    return load_local_model(resolve_local_model(ModelSpec.parse(MODEL).name))


def _micro(args) -> None:
    import torch  # lazy: torch takes seconds to import; only this measurement uses it directly

    loaded = _loaded_model()
    vocabulary = loaded.tokenizer.vocab_size
    generator = torch.Generator().manual_seed(0)

    def requests(count):
        # Random prompt tokens and no stop: every row runs its full budget, so the work is known.
        # Distinct prompts, so the prefix cache has nothing to reuse.
        return [GenerationRequest(torch.randint(100, vocabulary, (args.prompt_tokens,), generator=generator).tolist(),
                                  max_tokens=args.new_tokens, repetition_penalty=1.15) for _ in range(count)]

    def rate(max_batch, count):
        batcher = loaded.batcher(BatchSettings(max_batch=max_batch, wait_seconds=0.05))
        batch = requests(count)
        started = time.perf_counter()
        with ThreadPoolExecutor(count) as pool:
            generated = sum(len(g.token_ids) for g in pool.map(batcher.generate, batch))
        return generated / (time.perf_counter() - started)

    rate(1, 1)  # warm-up
    single = rate(1, 4)
    batched = rate(args.max_batch, args.max_batch)
    print(f"micro ({args.prompt_tokens}-token prompts, {args.new_tokens} new tokens each, "
          f"load {load_average()}):")
    print(f"  max batch 1:  {single:7.1f} generated tokens/s")
    print(f"  max batch {args.max_batch}: {batched:7.1f} generated tokens/s   ratio {ratio(batched, single)}")


def _campaign_config(profile_ids: list[str], args, workers: int, output_dir: Path, name: str):
    root = repository_root()
    overrides = {"name": name, "scenarios": profile_ids, "scenario_dir": str(root / "scenarios" / "library"),
                 "sessions": args.sessions, "workers": workers, "output_dir": str(output_dir),
                 "max_turns": args.max_turns}
    for role in ("counselor", "client", "judge"):
        overrides[f"models.{role}.model"] = MODEL
    if args.max_tokens:
        overrides["models.counselor.max_tokens"] = overrides["models.client.max_tokens"] = args.max_tokens
    return load_config(root / "configs" / "default.yaml", overrides)


def _run(config) -> dict:
    result = run_campaign(prepare_campaign(config, "bench"))
    if result.status != "finished":
        raise RuntimeError(f"benchmark campaign {config.name} did not finish: {result.courses}")
    totals = {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    for record in result.sessions:
        for fields in record["usage"].values():
            for name in totals:
                totals[name] += fields.get(name, 0)
    return {**totals, "seconds": result.wall_seconds, "rate": totals["completion_tokens"] / result.wall_seconds}


def _campaign(args) -> None:
    loaded = _loaded_model()  # loaded before the clocks start
    ids = sorted(load_library(repository_root() / "scenarios" / "library"))
    clients = ids[: args.clients]
    baseline_clients = clients[: args.baseline_clients]
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as output:
        for label, max_batch, courses in (
                (f"one at a time (max batch 1, 1 worker), {len(baseline_clients)} of {len(clients)} clients",
                 1, baseline_clients),
                (f"batched (max batch {args.max_batch}, {len(clients)} workers)", args.max_batch, clients)):
            with _batching(max_batch):
                config = _campaign_config(courses, args, 1 if max_batch == 1 else len(courses), Path(output),
                                          f"batch{max_batch}")
                figures = _run(config)
                runs.append((label, figures, len(courses), _serving_figures(loaded.batcher())))
    turns = config.models.counselor.max_tokens, config.models.client.max_tokens
    print(f"campaign ({MODEL}; the default campaign: {config.sessions} session(s) x {config.max_turns} client turns "
          f"per course, counselor/client max_tokens {turns[0]}/{turns[1]}; load at end {load_average()}):")
    for label, figures, courses, serving in runs:
        print(f"  {label}: {figures['rate']:6.1f} generated tokens/s  ({figures['completion_tokens']} tokens, "
              f"{figures['calls']} calls, {figures['prompt_tokens']} prompt tokens, {figures['seconds']:.1f} s, "
              f"{courses} courses)")
        if serving:
            print(f"    {serving}")
    print(f"  ratio batched / one at a time on {available_cores()} cores: {ratio(runs[1][1]['rate'], runs[0][1]['rate'])}"
          f" (target >= 8x)")


def _serving_figures(batcher) -> str:
    sizes = batcher.batch_sizes
    if not sizes:
        return ""
    line = f"forward passes: {len(sizes)}, rows per pass mean {sum(sizes) / len(sizes):.1f}, max {max(sizes)}"
    if hasattr(batcher, "busy_seconds"):
        line += f", model busy {batcher.busy_seconds:.1f} s"
    cache = getattr(batcher, "prefix_cache", None)
    if cache is not None:
        line += (f"; prompt tokens computed {batcher.prompt_tokens_fed}, reused from the prefix cache "
                 f"{cache.reused_tokens}")
    return line


if __name__ == "__main__":
    raise SystemExit(main())
