"""The bench command: runs the benchmarks of ``muspsy_sim.bench`` (the layer just below the CLI)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from ..core.errors import InputError

app = typer.Typer()

BENCHMARKS = ("cost", "overhead", "remote", "retrieval", "throughput")


def _entry_points() -> dict[str, Callable[[list[str]], int]]:
    # lazy: each benchmark imports the engine, servers or the local model; only `bench` needs them
    from muspsy_sim.bench import cost, overhead, remote, retrieval, throughput

    return {"cost": cost.main, "overhead": overhead.main, "remote": remote.main, "retrieval": retrieval.main,
            "throughput": throughput.main}


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="cost, overhead, remote, retrieval, throughput or all.")] = "all",
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes (a smoke run, not a measurement).")] = False,
) -> None:
    """Benchmarks: print figures with their baselines and the machine's cores. Further options go to the
    benchmark (e.g. `bench remote --url URL`; `python -m muspsy_sim.bench.NAME --help` lists them)."""
    if name != "all" and name not in BENCHMARKS:
        raise InputError("bench", "name", f"unknown benchmark '{name}' (known: {', '.join(BENCHMARKS)}, all)")
    if name == "all" and ctx.args:
        raise InputError("bench", "options", f"'all' takes only --quick; give a benchmark name for {' '.join(ctx.args)}")
    entry_points = _entry_points()
    failed = 0
    for benchmark in BENCHMARKS if name == "all" else (name,):
        code = entry_points[benchmark]([*(["--quick"] if quick else []), *ctx.args])
        failed += bool(code)
        if code == 2 and name != "all":
            raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)
