"""Commands on data: export (sessions as the three MusPsy tasks), train (LoRA), and the validity
harness against real help-seekers (``validity esconv``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..core.errors import InputError

app = typer.Typer()
validity = typer.Typer(help="Check the simulated client (and the judge) against people's own ratings: real "
                            "help-seekers' (esconv), or people who played the client (human).", no_args_is_help=True)
app.add_typer(validity, name="validity")


def parse_minimums(items: list[str], min_wai: float | None) -> dict[str, float]:
    """``--min-metric NAME=VALUE`` items (and ``--min-wai``) as {metric: minimum}."""
    minimums: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        try:
            minimums[name.strip()] = float(value)
        except ValueError:
            raise InputError("--min-metric", "", f"expected NAME=NUMBER, got '{item}'") from None
    if min_wai is not None:
        minimums["wai_total"] = min_wai
    return minimums


@app.command()
def export(
    source: Annotated[Path, typer.Argument(help="A run directory, imported MusPsy profiles, or a MusPsy release.")],
    out: Annotated[Path, typer.Option(help="Output JSONL (validation split goes beside it as NAME.validation.jsonl); "
                                           "with --format ratings a .csv or .parquet file.")],
    format: Annotated[str, typer.Option("--format", help="muspsy, openai or sharegpt (training data), or ratings "
                                                         "(a table of every rating: .csv or .parquet).")] = "muspsy",
    task: Annotated[Optional[list[str]], typer.Option(help="memory, goal, counseling (repeatable; default all).")] = None,
    min_wai: Annotated[Optional[float], typer.Option(help="Keep sessions whose WAI-SR total is at least this.")] = None,
    min_metric: Annotated[Optional[list[str]], typer.Option(help="NAME=VALUE: keep sessions with metrics.jsonl NAME >= VALUE.")] = None,
    dedupe: Annotated[bool, typer.Option(help="Drop exact duplicate examples.")] = True,
    validation: Annotated[float, typer.Option(help="Share of clients held out for validation (0..0.9).", min=0, max=0.9)] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the client split.")] = 0,
    include_filled_in: Annotated[bool, typer.Option(
        "--include-filled-in", help="Also export targets the program filled in: template check-ins, safety steps, "
        "fallback turns and goals, memories with filled-in fields (left out by default).")] = False,
    form: Annotated[str, typer.Option(
        "--form", help="turn: one counseling example per counselor turn, earlier turns as context (weight 0); "
        "session: one per session, weight 1 on the model's turns and 0 on the program's (openai, sharegpt).")] = "turn",
) -> None:
    """Export sessions as training data (the three MusPsy tasks), split by client; or (--format ratings) every
    rating of a run as one table (.csv or .parquet), a person's and the simulated client's alike."""
    if format == "ratings":
        # lazy: the ratings table reads the appraisal items and instruments (agents.client)
        from ..export.ratings import export_ratings

        given = [name for name, value in (("--task", task), ("--min-wai", min_wai), ("--min-metric", min_metric))
                 if value] + (["--validation"] if validation else [])
        if given:
            raise InputError(given[0], "", "applies to training data, not to --format ratings")
        written = export_ratings(source, out)
        typer.echo(f"ratings: {written.rows} rows from {written.sessions} sessions -> {written.path} "
                   f"({written.unrated} without a rating: unanswered by a person, or a rules cue)")
        return
    # lazy: the exporter builds the run's counselor class, and with it the model layer (agents.llm)
    from ..export import TASKS, export_dataset

    report = export_dataset(source, format, out, tasks=tuple(task or TASKS),
                            minimums=parse_minimums(min_metric or [], min_wai),
                            dedupe=dedupe, validation_share=validation, seed=seed, include_filled_in=include_filled_in,
                            form=form)
    for part, path in report.files.items():
        typer.echo(f"{part}: {report.counts[part]} examples from {len(report.clients[part])} clients -> {path}")
    trained = ", ".join(f"{task} {count}" for task, count in sorted(report.trained.items()))
    typer.echo(f"Messages to learn (weight 1; every other assistant message is context, weight 0): {trained or 'none'}.")
    typer.echo(f"How each trainer learns only those (OpenAI, Axolotl, LLaMA-Factory: mask_history): {report.trainers}")
    typer.echo(f"sessions kept {report.sessions_kept}, filtered out {report.sessions_filtered}, "
               f"duplicates dropped {report.duplicates_dropped}")
    if report.left_out:
        kinds = ", ".join(f"{count} {kind}" for kind, count in report.left_out.items())
        typer.echo(f"left out as targets (filled in by the program, not a model; context only, weight 0; "
                   f"--include-filled-in exports them): {kinds}")


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="Training JSONL from `export` (openai, sharegpt or muspsy format).")],
    out: Annotated[Path, typer.Option(help="Where to write the LoRA adapter (use it as local/OUT).")],
    base: Annotated[str, typer.Option(help="Base model.")] = "local/smollm2-135m-instruct",
    steps: Annotated[int, typer.Option(help="Optimizer steps.", min=1)] = 30,
    lr: Annotated[float, typer.Option(help="Learning rate.")] = 2e-4,
    lora_r: Annotated[int, typer.Option(help="LoRA rank.", min=1)] = 8,
    batch_size: Annotated[int, typer.Option(help="Batch size.", min=1)] = 4,
    max_length: Annotated[int, typer.Option(help="Max tokens per example.", min=32)] = 768,
    validation: Annotated[Optional[Path], typer.Option(help="Validation JSONL (e.g. NAME.validation.jsonl).")] = None,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
    threads: Annotated[Optional[int], typer.Option(help="CPU threads for torch.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing OUT.")] = False,
) -> None:
    """LoRA fine-tuning of a counselor on its turns only (CPU, or GPU when there is one)."""
    # lazy: training runs on the local model stack (agents.llm, torch, transformers, peft, trl)
    from muspsy_sim.agents.llm.environment import configure_offline_environment
    from muspsy_sim.agents.training import train_counselor

    configure_offline_environment()
    result = train_counselor(data, base, out, steps=steps, learning_rate=lr, lora_r=lora_r,
                             batch_size=batch_size, max_length=max_length, seed=seed, validation=validation,
                             progress=True, overwrite=overwrite, threads=threads)
    first, last = result.losses[0][1], result.losses[-1][1]
    typer.echo(f"trained {len(result.losses)} steps on {result.device} in {result.seconds:.0f} s: loss {first:.3f} -> {last:.3f}")
    if result.validation_loss is not None:
        typer.echo(f"validation loss {result.validation_loss_before:.3f} -> {result.validation_loss:.3f}")
    typer.echo(f"adapter, config and loss curve in {result.out_dir}; use it as --counselor-model local/{result.out_dir}")


@validity.command("esconv")
def validity_esconv(
    path: Annotated[Path, typer.Argument(help="Conversations in the ESConv format (a JSON list; not in this repository).")],
    out: Annotated[Path, typer.Option(help="Directory for validity.json and replays.jsonl.")],
    client_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the client (default: the config's, "
                                                              "else the embedded model).")] = None,
    appraisal: Annotated[Optional[str], typer.Option(help="rules or model: how the client takes each supporter turn "
                                                          "(default: the config's, else rules).")] = None,
    self_report: Annotated[Optional[str], typer.Option(help="model or latent: how it answers the end-of-session "
                                                            "rating (default: the config's, else model).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="A campaign YAML: its client model, scoring, appraisal, "
                                                        "self-report mode and client_dynamics apply.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Replay only the first N usable conversations.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the client's dynamics, the bootstrap and the shuffles.")] = 0,
    judge: Annotated[bool, typer.Option("--judge", help="Also have the judge rate each conversation (empathy, and "
                                                        "coherence as relevance) against the seekers' own ratings.")] = False,
    judge_model: Annotated[Optional[str], typer.Option(help="Judge model with --judge (default: the embedded model).")] = None,
) -> None:
    """Replay real support conversations through the simulated client; Spearman rho of its ratings with the seekers'
    (also with the seekers' words masked, and against whole conversations shuffled)."""
    # lazy: the replay builds the client's model (agents.llm) and the statistics (scipy)
    from rich.console import Console

    from muspsy_sim.agents.llm.environment import configure_offline_environment

    from ..config import DEFAULT_MODEL, load_config
    from ..validity.harness import VALIDITY, run_validity, validity_table

    configure_offline_environment()
    campaign = load_config(config) if config is not None else None
    console = Console()
    with console.status("replaying conversations...") as status:
        if judge_model and not judge:
            raise InputError("--judge-model", "", "give --judge to have the judge rate the conversations")
        result = run_validity(path, out, client_model=client_model, appraisal=appraisal, self_report=self_report,
                              limit=limit, seed=seed, judge_model=(judge_model or DEFAULT_MODEL) if judge else None,
                              config=campaign, config_source=str(config) if config else None,
                              on_conversation=lambda done, total: status.update(f"replayed {done}/{total} conversations"))
    console.print(validity_table(result))
    for skipped in result["conversations"]["skipped"]:
        console.print(f"skipped conversation #{skipped['index']}: {skipped['reason']}", markup=False)
    console.print(f"Wrote {out / VALIDITY}")


@validity.command("human")
def validity_human(
    runs: Annotated[list[Path], typer.Argument(help="Run directories with sessions a person played as the client "
                                                    "(`practice --as client`).")],
    out: Annotated[Path, typer.Option(help="Directory for validity.json, replays.jsonl and ratings.csv.")],
    client_model: Annotated[Optional[str], typer.Option(help="LiteLLM model string for the simulated client "
                                                             "(default: the first run's client model).")] = None,
    appraisal: Annotated[Optional[str], typer.Option(help="rules or model: how the simulated client takes each counselor "
                                                          "turn (default: the first run's client.appraisal).")] = None,
    self_report: Annotated[Optional[str], typer.Option(help="model or latent: how it answers the questionnaires "
                                                            "(default: the first run's client.self_report).")] = None,
    judge: Annotated[bool, typer.Option(help="Also compare the judge's ratings of each session with the person's.")] = False,
    judge_model: Annotated[Optional[str], typer.Option(help="Judge model (default: the first run's).")] = None,
    resample: Annotated[str, typer.Option(help="What the bootstrap resamples: sessions, raters, or auto (raters from "
                                               "5 raters on).")] = "auto",
    seed: Annotated[int, typer.Option(help="Seed of the client's dynamics, the bootstrap and the shuffles.")] = 0,
) -> None:
    """Replay the sessions people played as the client through the simulated client; agreement of its ratings
    with theirs (Spearman, interval, shuffled control, mean difference; people's own agreement as the ceiling)."""
    # lazy: the replay builds the client's model (agents.llm) and the statistics (scipy, nltk)
    from rich.console import Console

    from muspsy_sim.agents.llm.environment import configure_offline_environment

    from ..validity.human_harness import VALIDITY, human_table, run_human_validity

    configure_offline_environment()
    console = Console()
    with console.status("replaying sessions...") as status:
        result = run_human_validity(runs, out, client_model=client_model, appraisal=appraisal,
                                    self_report=self_report, judge=judge, judge_model=judge_model, resample=resample,
                                    seed=seed, on_session=lambda done, total: status.update(
                                        f"replayed {done}/{total} sessions"))
    console.print(human_table(result))
    console.print(f"Wrote {out / VALIDITY}, replays.jsonl and ratings.csv")
