"""Requests, tokens and filled-in answers per session against an OpenAI-compatible server, per scoring method.

Runs the default campaign (configs/default.yaml: its clients, sessions, turns, counselor and model
settings; the client's questionnaires answered by its model, ``client.self_report: model``) with
every role ``openai/<model>`` and ``api_base`` = the server, once per scoring method of the client
(the role ``scoring`` setting, ``agents/llm/choice_scoring``):

- ``json-per-item``: one JSON request per questionnaire item, re-asked up to twice when the answer is
  not an option (how every answer over the wire was asked before);
- ``json``: one JSON request per questionnaire (its JSON schema names every item), re-asking only
  the items that came back missing or invalid;
- ``logprobs``: likelihood from the server's top log-probabilities, one one-token request per item,
  calibrated against the questionnaire's "N/A" prompt (one more request per questionnaire).

For each: requests, prompt tokens and completion tokens per finished session (every role, as the
sessions' usage counts them: what a provider bills), of which the client's, the share of
questionnaire answers filled in (fallback), and the campaign's wall time. The targets apply to the
best method (the fewest requests among those with no more fallbacks than the campaign's threshold):
at most 20 requests and 9,000 prompt tokens per session.

    python run_sim.py bench cost [--url http://127.0.0.1:PORT/v1 | --llama-server]
                                 [--methods json-per-item,json,logprobs] [--clients N] [--sessions N]

Without ``--url`` it starts bench/mock_openai_server.py, which answers at once, gives log-probabilities
and estimates tokens as characters / 4; its JSON answers are schema minimums ("{}" for a plain JSON
object), so the per-item method's answers all fall back there. A real server gives real counts:
``--llama-server`` starts llama.cpp's (built by .ci/build-llama-server) on the embedded SmolLM2 GGUF.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.agents.llm.local.resolution import EMBEDDED_MODEL, resolve_local_model
from muspsy_sim.scenarios.loader import LIBRARY_DIR, load_library
from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.config import ROLES, CampaignConfig, load_config
from muspsy_sim.simulation.record.schema import SessionRecord
from muspsy_sim.simulation.record.tallies import session_answers

from .common import BenchParser, HashingEmbedder, campaigns_embed_with, header, repository_root
from .servers import (
    LlamaServerUnavailable,
    dummy_api_key,
    llama_server,
    llama_server_binary,
    server_stats,
    serving,
)

METHODS = ("json-per-item", "json", "logprobs")
TARGET_REQUESTS = 20
TARGET_PROMPT_TOKENS = 9000


@dataclass
class MethodCost:
    method: str
    sessions: int
    requests: float  # per session, every role
    client_requests: float
    prompt_tokens: float
    completion_tokens: float
    fallbacks: int
    answers: int
    wall_seconds: float
    status: str

    @property
    def fallback_share(self) -> float:
        return self.fallbacks / self.answers if self.answers else 0.0


def campaign_config(url: str, method: str, directory: Path, args) -> CampaignConfig:
    """The default campaign against ``url``, the client (and judge) answering options by ``method``."""
    data = load_config(repository_root() / "configs" / "default.yaml").model_dump(mode="json")
    data.update(name=f"cost-{method}", output_dir=str(directory), scenario_dir=str(LIBRARY_DIR))
    if args.clients:
        data["scenarios"] = sorted(load_library(LIBRARY_DIR))[:args.clients]
    if args.sessions:
        data["sessions"] = args.sessions
    if args.turns:
        data["max_turns"] = args.turns
    for role in ROLES:
        data["models"][role].update(model=f"openai/{args.model}", api_base=url, scoring=method)
    # The client's model answers its questionnaires (the default campaign reads them off its state instead).
    data["client"]["self_report"] = "model"
    return CampaignConfig.model_validate(data)


def per_session(records: list[SessionRecord], field: str, roles: tuple[str, ...] = ROLES) -> float:
    total = sum(usage.to_dict().get(field, 0) for r in records for role, usage in r.usage.items() if role in roles)
    return total / max(1, len(records))


def measure(url: str, method: str, directory: Path, args) -> MethodCost:
    config = campaign_config(url, method, directory, args)
    started = time.perf_counter()
    result = run_campaign(prepare_campaign(config, "bench cost"))
    wall = time.perf_counter() - started
    records = result.sessions
    counts = [pair for r in records for pair in session_answers(r).values()]
    return MethodCost(
        method=method, sessions=len(records), requests=per_session(records, "calls"),
        client_requests=per_session(records, "calls", ("client",)),
        prompt_tokens=per_session(records, "prompt_tokens"), completion_tokens=per_session(records, "completion_tokens"),
        fallbacks=sum(f for _, f in counts), answers=sum(a for a, _ in counts), wall_seconds=wall, status=result.status,
    )


def best(costs: list[MethodCost], threshold: float) -> MethodCost | None:
    usable = [c for c in costs if c.sessions and c.fallback_share <= threshold]
    return min(usable, key=lambda c: (c.requests, c.prompt_tokens)) if usable else None


def report(costs: list[MethodCost], threshold: float) -> None:
    print(f"{'method':<14} {'requests':>9} {'(client)':>9} {'prompt tok':>11} {'compl. tok':>11} "
          f"{'fallback answers':>22} {'wall':>8}   per finished session")
    for c in costs:
        share = f"{c.fallback_share:.0%} ({c.fallbacks}/{c.answers})"
        print(f"{c.method:<14} {c.requests:>9.1f} {c.client_requests:>9.1f} {c.prompt_tokens:>11,.0f} "
              f"{c.completion_tokens:>11,.0f} {share:>22} {c.wall_seconds:>7.1f}s   "
              f"{c.sessions} sessions{'' if c.status == 'finished' else ', campaign ' + c.status}")
    chosen = best(costs, threshold)
    if chosen is None:
        print(f"targets: no method kept its fallback answers within {threshold:.0%}")
        return
    met = lambda ok: "met" if ok else "NOT met"  # noqa: E731
    print(f"targets on the best method ({chosen.method}: fewest requests with fallbacks <= {threshold:.0%}): "
          f"<= {TARGET_REQUESTS} requests per session: {met(chosen.requests <= TARGET_REQUESTS)} "
          f"({chosen.requests:.1f}); <= {TARGET_PROMPT_TOKENS:,} prompt tokens: "
          f"{met(chosen.prompt_tokens <= TARGET_PROMPT_TOKENS)} ({chosen.prompt_tokens:,.0f})")


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="bench cost", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="OpenAI-compatible base URL (…/v1); default: start the mock server.")
    parser.add_argument("--llama-server", action="store_true",
                        help="Start llama.cpp's server (.ci/build-llama-server) on the embedded GGUF.")
    parser.add_argument("--threads", type=int, default=None, help="--llama-server: its threads (default: all cores).")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"Comma-separated, of {', '.join(METHODS)}.")
    parser.add_argument("--model", default="smollm2", help="Model name sent to the server (openai/NAME).")
    parser.add_argument("--clients", type=int, default=None, help="First N library clients (default: the default campaign's).")
    parser.add_argument("--sessions", type=int, default=None, help="Sessions per client (default: the default campaign's).")
    parser.add_argument("--turns", type=int, default=None, help="Client turns per session (default: the default campaign's).")
    parser.add_argument("--embedder", choices=("minilm", "hash"), default="minilm",
                        help="Memory embeddings (hash: a zero-cost stand-in; retrieval still fills prompts).")
    parser.add_argument("--quick", action="store_true", help="1 client, 1 session, 1 turn, hashing embedder.")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        print(f"error: --methods: unknown {', '.join(unknown) or '(none given)'} (known: {', '.join(METHODS)})",
              file=sys.stderr)
        return 2
    if args.quick:
        args.clients, args.sessions, args.turns, args.embedder = 1, 1, 1, "hash"
    configure_offline_environment()
    header("cost per session against an OpenAI-compatible server, per scoring method")
    with campaigns_embed_with(HashingEmbedder() if args.embedder == "hash" else None):
        return _measure_all(args, methods)


def _measure_all(args: argparse.Namespace, methods: list[str]) -> int:
    costs = []
    if args.llama_server:
        try:
            binary = llama_server_binary()
        except LlamaServerUnavailable as reason:
            print(f"error: --llama-server: {reason}", file=sys.stderr)
            return 2
        embedded = resolve_local_model(EMBEDDED_MODEL)
        server = llama_server(binary, embedded.directory / embedded.gguf_file, threads=args.threads)
    else:
        server = serving(args.url)
    with dummy_api_key(), server as url, tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        mock = not (args.url or args.llama_server)
        print(f"server: {url}{' (the mock: tokens estimated as characters / 4)' if mock else ''}"
              f"{' (llama.cpp, the embedded SmolLM2 GGUF)' if args.llama_server else ''}; "
              f"the default campaign, every role openai/{args.model}; embedder {args.embedder}")
        for method in methods:
            before = server_stats(url).get("requests")
            cost = measure(url, method, Path(tmp) / method, args)
            after = server_stats(url).get("requests")
            if before is not None and after is not None and cost.sessions:
                print(f"  {method}: the server counted {after - before} requests "
                      f"({(after - before) / cost.sessions:.1f} per session)")
            costs.append(cost)
        threshold = campaign_config(url, methods[0], Path(tmp), args).answer_fallbacks.threshold
    report(costs, threshold)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
