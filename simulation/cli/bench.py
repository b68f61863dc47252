"""The bench command: runs the benchmarks of ``muspsy_sim.bench``, found by name at run time.

The simulation layer does not import the bench layer (which sits above it): each
benchmark module is looked up with importlib, and an installation without it
says so instead of failing.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from muspsy_sim.scenarios.base.errors import InputError

app = typer.Typer()

BENCHMARKS = ("concurrency", "cost", "overhead", "remote", "retrieval", "scale", "throughput")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="concurrency, cost, overhead, remote, retrieval, scale, throughput or all.")] = "all",
    quick: Annotated[bool, typer.Option("--quick", help="Small sizes (a smoke run, not a measurement).")] = False,
) -> None:
    """Benchmarks: print figures with their baselines and the machine's cores. Further options go to the
    benchmark (e.g. `bench remote --url URL`; `python -m muspsy_sim.bench.NAME --help` lists them)."""
    if name != "all" and name not in BENCHMARKS:
        raise InputError("bench", "name", f"unknown benchmark '{name}' (known: {', '.join(BENCHMARKS)}, all)")
    if name == "all" and ctx.args:
        raise InputError("bench", "options", f"'all' takes only --quick; give a benchmark name for {' '.join(ctx.args)}")
    failed = 0
    for benchmark in BENCHMARKS if name == "all" else (name,):
        try:
            module = importlib.import_module(f"muspsy_sim.bench.{benchmark}")
        except ModuleNotFoundError as error:
            if error.name != f"muspsy_sim.bench.{benchmark}":
                raise
            typer.echo(f"== {benchmark}: not available in this installation ==", err=True)
            failed += 1
            continue
        code = module.main([*(["--quick"] if quick else []), *ctx.args])
        failed += bool(code)
        if code == 2 and name != "all":
            raise typer.Exit(2)
    if failed:
        raise typer.Exit(1)
