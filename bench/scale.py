"""Cost per course as a campaign grows: test-double campaigns of 10, 100 and 1,000 courses.

Each campaign is the default campaign's settings (configs/default.yaml: 3 sessions of 3 client
turns, the MusPsy counselor retrieving from the embedded Chroma store, latent self-reports) with
the scripted test double for every role, over N clients: the case library's profiles, copied as
many times as it takes (``ID-rK``: the same profile as another client, so another random course).
For each size it prints the wall time per course, the process's peak memory (RSS, sampled), the
run directory's sizes (sessions.jsonl, manifest.json, checkpoints.sqlite, chroma/), and the time
``eval``, ``report``, ``inspect`` and ``resume`` take on the finished run (in this process, through
the functions those commands call, their output rendered and discarded). The baseline, measured in the same run, is the
smallest campaign's cost per course: a cost that stays flat has a ratio near 1 (target: at most
1.5 at the largest size). A 2-course campaign runs first, unreported, so imports and first uses
are not counted as the first size's. Embeddings: the zero-cost hashing stand-in unless
``--embedder minilm`` (MiniLM would add the same ~12 ms per text at every size).

    python run_sim.py bench scale [--sizes 10,100,1000] [--workers 2] [--embedder hash|minilm] [--quick]
"""

from __future__ import annotations

import contextlib
import io
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.scenarios.loader import LIBRARY_DIR
from muspsy_sim.simulation.campaign import prepare_campaign, run_campaign
from muspsy_sim.simulation.config import load_config
from muspsy_sim.simulation.evaluation.report_tables import eval_tables
from muspsy_sim.simulation.evaluation.run_eval import evaluate_run
from muspsy_sim.simulation.inspection.inspect_run import run_overview, session_transcript
from muspsy_sim.simulation.inspection.report import build_report
from muspsy_sim.simulation.record.run_log import RunLog

from .common import (
    BenchParser,
    HashingEmbedder,
    campaigns_embed_with,
    header,
    load_average,
    ratio,
    repository_root,
    whole_numbers,
)

TARGET_RATIO = 1.5
TEST_DOUBLE = "testdouble/scripted"


class PeakMemory:
    """The process's resident set size, sampled every 20 ms while a phase runs; its peak in MB."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def rss_mb() -> float:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.rss_mb())
            time.sleep(0.02)

    def __enter__(self) -> "PeakMemory":
        self.peak_mb = self.rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.rss_mb())


@dataclass
class SizeResult:
    courses: int
    wall_seconds: float
    cpu_seconds: float  # of this process, every thread: less shaken than wall time by other work on the machine
    sessions: int
    peak_rss_mb: float
    sizes_mb: dict[str, float]
    commands: dict[str, float] = field(default_factory=dict)

    @property
    def ms_per_course(self) -> float:
        return self.wall_seconds * 1000 / self.courses

    @property
    def cpu_ms_per_course(self) -> float:
        return self.cpu_seconds * 1000 / self.courses


def write_clients(directory: Path, count: int) -> list[str]:
    """``count`` client profiles: the library's, then copies of them (``ID-rK``); their ids."""
    directory.mkdir(parents=True, exist_ok=True)
    library = sorted(LIBRARY_DIR.glob("*.yaml"))
    ids: list[str] = []
    copy = 0
    while len(ids) < count:
        for file in library[: count - len(ids)]:
            profile = yaml.safe_load(file.read_text(encoding="utf-8"))
            if copy:
                profile["id"] = f"{profile['id']}-r{copy}"
            (directory / f"{profile['id']}.yaml").write_text(yaml.safe_dump(profile, sort_keys=False),
                                                               encoding="utf-8")
            ids.append(profile["id"])
        copy += 1
    return ids


def _megabytes(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20 if path.is_dir() else 0.0


def _timed(step: Callable[[], object]) -> float:
    """Seconds ``step`` takes in this process, whatever it prints discarded."""
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        step()
    return time.perf_counter() - started


def _printed(renderable) -> None:
    """Render a rich table or group as the command line would print it, to nowhere."""
    Console(file=io.StringIO(), width=200).print(renderable)


def _resumed(run_dir: Path) -> None:
    """What `resume RUN_DIR` does: the recorded config, checked, and its (finished) courses run again."""
    result = run_campaign(prepare_campaign(RunLog.open(run_dir).resume_config(), "bench scale"))
    if result.status != "finished":
        raise RuntimeError(f"resume of {run_dir} ended {result.status}")


def _commands(run_dir: Path, first_client: str) -> dict[str, float]:
    """Seconds the work of ``eval``, ``report``, ``inspect`` and ``resume`` takes on the run: the functions the
    commands call (the bench layer sits below the CLI), with their output rendered as the CLI would."""
    return {
        "eval": _timed(lambda: _printed(eval_tables(evaluate_run(run_dir)))),
        "report": _timed(lambda: build_report([run_dir], run_dir / "report.html")),
        "inspect": _timed(lambda: _printed(run_overview(run_dir))),
        "inspect --session": _timed(lambda: _printed(session_transcript(run_dir, first_client, 2))),
        "resume": _timed(lambda: _resumed(run_dir)),
    }


def run_size(directory: Path, courses: int, workers: int, *, commands: bool = True) -> SizeResult:
    """One campaign of ``courses`` test-double courses in ``directory``, then the commands on its run."""
    clients = write_clients(directory / "clients", courses)
    overrides = {"name": f"scale-{courses}", "scenarios": clients, "scenario_dir": str(directory / "clients"),
                 "output_dir": str(directory / "runs"), "workers": workers,
                 **{f"models.{role}.model": TEST_DOUBLE for role in ("counselor", "client", "judge")}}
    config = load_config(repository_root() / "configs" / "default.yaml", overrides)
    with PeakMemory() as memory:
        plan = prepare_campaign(config, "bench scale")
        started, cpu_started = time.perf_counter(), time.process_time()
        result = run_campaign(plan)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if result.status != "finished":
        raise RuntimeError(f"the {courses}-course campaign ended {result.status}: {result.interruption or ''}")
    run_dir = result.run_dir
    sizes = {name: _megabytes(run_dir / name)
             for name in ("sessions.jsonl", "manifest.json", "checkpoints.sqlite", "chroma")}
    sizes["run directory"] = _megabytes(run_dir)
    measured = SizeResult(courses, wall, cpu, len(result.sessions), memory.peak_mb, sizes)
    if commands:
        measured.commands = _commands(run_dir, clients[0])
        measured.sizes_mb["report"] = _megabytes(run_dir / "report.html") + _megabytes(run_dir / "report-pages")
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = BenchParser(prog="bench scale", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=whole_numbers, default="10,100,1000", help="Campaign sizes in courses, comma-separated.")
    parser.add_argument("--workers", type=int, default=2, help="Courses at a time (the default campaign's 2).")
    parser.add_argument("--embedder", choices=("hash", "minilm"), default="hash")
    parser.add_argument("--quick", action="store_true", help="Sizes 4 and 12 (a smoke run, not a measurement).")
    parser.add_argument("--no-commands", action="store_true", help="Time the campaigns only, not eval, report, ...")
    args = parser.parse_args(argv)
    sizes = [4, 12] if args.quick else sorted(set(args.sizes))
    if not sizes or min(sizes) < 1 or args.workers < 1:
        parser.error("sizes and workers must be positive")

    configure_offline_environment()
    header("scale: cost per course as a test-double campaign grows")
    with campaigns_embed_with(HashingEmbedder() if args.embedder == "hash" else None):
        return _measure(args, sizes)


def _measure(args, sizes: list[int]) -> int:
    print(f"campaign: configs/default.yaml with {TEST_DOUBLE} for every role (3 sessions x 3 client turns, "
          f"MusPsy counselor retrieving top 3 from the embedded Chroma store), {args.workers} workers; embedder: "
          + ("zero-cost hashing stand-in" if args.embedder == "hash" else "MiniLM"))
    results: list[SizeResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        run_size(Path(tmp) / "warm-up", 2, args.workers, commands=False)
        for size in sizes:
            results.append(run_size(Path(tmp) / f"size-{size}", size, args.workers, commands=not args.no_commands))
            result = results[-1]
            print(f"{size:>6} courses: {result.wall_seconds:7.1f} s, {result.ms_per_course:6.1f} ms per course "
                  f"(CPU {result.cpu_ms_per_course:.1f} ms; {result.sessions} sessions), peak RSS "
                  f"{result.peak_rss_mb:,.0f} MB, load {load_average()}")
            print("        sizes (MB): " + ", ".join(f"{name} {mb:,.1f}" for name, mb in result.sizes_mb.items()))
            print("        commands on the run (s): " + ", ".join(f"{name} {seconds:.1f}"
                                                             for name, seconds in result.commands.items()))
    base = results[0]
    print(f"baseline: the {base.courses}-course campaign, same run: {base.ms_per_course:.1f} ms per course "
          f"(CPU {base.cpu_ms_per_course:.1f} ms)")
    for result in results[1:]:
        per_course = ", ".join(f"{name} {seconds * 1000 / result.courses:.1f} ms" for name, seconds
                               in result.commands.items() if name in ("eval", "report", "resume"))
        print(f"  {result.courses} courses: {ratio(result.ms_per_course, base.ms_per_course)} the baseline's wall time "
              f"per course, {ratio(result.cpu_ms_per_course, base.cpu_ms_per_course)} its CPU time"
              + (f"; per course: {per_course}" if per_course else ""))
    largest = results[-1]
    growth = largest.ms_per_course / base.ms_per_course
    print(f"target: wall time per course at {largest.courses} courses within {TARGET_RATIO}x of {base.courses}'s: "
          f"{growth:.2f}x, {'met' if growth <= TARGET_RATIO else 'NOT met'} (CPU time: "
          f"{largest.cpu_ms_per_course / base.cpu_ms_per_course:.2f}x); peak RSS of this process "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
