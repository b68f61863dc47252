"""Throughput of the embedded local model: batched concurrent courses versus one request at a time.

``campaign``: a short campaign of N client courses (default 16) run concurrently with the batched
``local/`` provider, against the same kind of work with max batch 1 and one worker (the old
one-at-a-time behaviour), measured in the same process. Generated tokens are the sessions' recorded
completion tokens (questionnaire scoring calls count one token each). The baseline may run on a
subset of the clients (``--baseline-clients``): tokens/s is a rate, so it compares; the output says so.
``micro``: raw generation at batch 1 versus batch 16 on same-length prompts.

    python -m bench.throughput [--mode campaign|micro|all] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from bench.common import core_count, header, load_average, ratio, repository_root

MODEL = "local/smollm2-135m-instruct"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench throughput", description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("campaign", "micro", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="4 clients, tiny outputs: a smoke run, not a measurement")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client courses (batched run)")
    parser.add_argument("--baseline-clients", type=int, default=4, help="courses in the one-at-a-time baseline")
    parser.add_argument("--max-batch", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=32, help="counselor/client turn length")
    parser.add_argument("--prompt-tokens", type=int, default=300, help="micro: prompt length")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.baseline_clients, args.max_tokens, args.prompt_tokens = 4, 1, 8, 120
    if min(args.clients, args.baseline_clients, args.max_batch, args.max_tokens, args.prompt_tokens) < 1:
        parser.error("sizes must be positive")

    from agents.llm.environment import configure_offline_environment

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
    from agents.llm.local_models import load_local_model, resolve_local_model

    return load_local_model(resolve_local_model(MODEL.removeprefix("local/")))


def _micro(args) -> None:
    import torch

    from agents.llm.local_batching import GenerationRequest, threads_for_load
    from agents.llm.local_decoding import generate_batch

    loaded = _loaded_model()
    torch.set_num_threads(threads_for_load(core_count(), os.getloadavg()[0]))
    vocabulary = loaded.tokenizer.vocab_size
    generator = torch.Generator().manual_seed(0)

    def requests(count):
        # Random prompt tokens and no stop: every row runs its full budget, so the work is known.
        return [GenerationRequest(torch.randint(100, vocabulary, (args.prompt_tokens,), generator=generator).tolist(),
                                  max_tokens=args.max_tokens, repetition_penalty=1.15) for _ in range(count)]

    def rate(batch, rounds):
        generated, started = 0, time.perf_counter()
        for _ in range(rounds):
            generated += sum(len(g.token_ids) for g in generate_batch(loaded.model, loaded.tokenizer, requests(batch)))
        return generated / (time.perf_counter() - started)

    rate(1, 1)  # warm-up
    single = rate(1, 2)
    batched = rate(args.max_batch, 1)
    print(f"micro ({args.prompt_tokens}-token prompts, {args.max_tokens} new tokens each, "
          f"{torch.get_num_threads()} torch threads, load {load_average()}):")
    print(f"  batch 1:  {single:7.1f} generated tokens/s")
    print(f"  batch {args.max_batch}: {batched:7.1f} generated tokens/s   ratio {ratio(batched, single)}")


def _campaign_config(profile_ids: list[str], args, workers: int, output_dir: Path, name: str):
    from simulation.config import CampaignConfig

    turn = {"model": MODEL, "max_tokens": args.max_tokens}
    return CampaignConfig(
        name=name, scenarios=profile_ids, scenario_dir=str(repository_root() / "scenarios" / "library"),
        sessions=1, max_turns=1, workers=workers, seed=3, output_dir=str(output_dir),
        models={"counselor": {**turn, "temperature": 0.5}, "client": turn,
                "judge": {"model": MODEL, "max_tokens": 8, "temperature": 0.0}},
        counselor_options={"memory_max_tokens": args.max_tokens, "goal_max_tokens": max(8, args.max_tokens // 2)},
    )


def _run(config) -> dict:
    from simulation.campaign import prepare_campaign, run_campaign

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
    from scenarios.loader import load_library

    loaded = _loaded_model()  # loaded before the clocks start
    ids = sorted(load_library(repository_root() / "scenarios" / "library"))
    clients = ids[: args.clients]
    baseline_clients = clients[: args.baseline_clients]
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as output:
        with _batching(1):
            baseline = _run(_campaign_config(baseline_clients, args, 1, Path(output), "baseline"))
        with _batching(args.max_batch):
            batched = _run(_campaign_config(clients, args, len(clients), Path(output), "batched"))
            sizes = loaded.batcher().batch_sizes
    print(f"campaign ({MODEL}, 1 session x 1 client turn per course, turn max_tokens {args.max_tokens}, "
          f"load at end {load_average()}):")
    for label, figures, courses in ((f"one at a time (max batch 1, 1 worker), {len(baseline_clients)} of "
                                     f"{len(clients)} clients", baseline, len(baseline_clients)),
                                    (f"batched (max batch {args.max_batch}, {len(clients)} workers)", batched,
                                     len(clients))):
        print(f"  {label}: {figures['rate']:6.1f} generated tokens/s  ({figures['completion_tokens']} tokens, "
              f"{figures['calls']} calls, {figures['prompt_tokens']} prompt tokens, {figures['seconds']:.1f} s, "
              f"{courses} courses)")
    if sizes:
        print(f"  generation batches: {len(sizes)}, mean size {sum(sizes) / len(sizes):.1f}, max {max(sizes)}")
    print(f"  ratio batched / one at a time on {core_count()} cores: {ratio(batched['rate'], baseline['rate'])}"
          f" (target >= 8x)")


if __name__ == "__main__":
    raise SystemExit(main())
