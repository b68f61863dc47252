"""A whole command's start-up: ``run`` of a 1 client x 1 session campaign, each in a fresh process.

What a user waits for, end to end: the interpreter, the imports, reading the config and profiles,
building the agents, the campaign itself and the summary at its end. Measured on the scripted test
double (served in process: no LiteLLM import), against the mock OpenAI-compatible server (every API
model's path: LiteLLM is imported), and optionally on the embedded SmolLM2. Beside each: the campaign's
own seconds (the manifest's ``wall_seconds``) and, for the API path, LiteLLM's own import, measured
alone in a fresh interpreter. Targets (issue 25, point 6): the test double and the embedded model's
fixed cost at most 5 s, an API model at most 5 s plus LiteLLM's import.

Part of ``bench overhead`` (``print_startup``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from .common import percentile, repository_root, verdict
from .servers import DUMMY_KEY, serving

TARGET_S = 5.0
ROLES = ("counselor", "client", "judge")


def _config(directory: Path, models: dict) -> Path:
    root = repository_root()
    config = {
        "name": "startup", "scenarios": ["gad-priya-38"], "scenario_dir": str(root / "scenarios" / "library"),
        "sessions": 1, "max_turns": 3, "models": models, "seed": 7, "workers": 1,
        "client": {"appraisal": "rules", "self_report": "latent"}, "output_dir": str(directory / "runs"),
    }
    path = directory / "startup.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _run_command(models: dict, environment: dict[str, str]) -> tuple[float, float]:
    """Seconds of one whole `run` command in a fresh process, and of the campaign inside it."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        config = _config(Path(tmp), models)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "muspsy_sim.simulation.cli", "run", "--config", str(config),
                               "--no-progress"], capture_output=True, text=True, env=environment, timeout=900)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"start-up run failed: {done.stderr[-2000:] or done.stdout[-2000:]}")
        manifest = json.loads((Path(tmp) / "runs" / "startup" / "manifest.json").read_text(encoding="utf-8"))
        return wall, float(manifest.get("wall_seconds") or 0.0)


def _import_seconds(module: str, environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, env=environment, timeout=300)
    return time.perf_counter() - started - _bare_interpreter(environment)


def _bare_interpreter(environment: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=environment, timeout=60)
    return time.perf_counter() - started


def _figures(label: str, runs: list[tuple[float, float]]) -> tuple[float, str]:
    walls = [wall for wall, _ in runs]
    campaign = percentile([inside for _, inside in runs], 50)
    wall = percentile(walls, 50)
    spread = f"p50 {wall:.2f} s, p90 {percentile(walls, 90):.2f} s (n={len(walls)})"
    return wall, (f"{label}: whole command {spread}; the campaign inside it {campaign:.2f} s, so "
                  f"{wall - campaign:.2f} s of start-up and summary")


def print_startup(repeats: int, *, local: bool = False) -> None:
    environment = {**os.environ, "OPENAI_API_KEY": DUMMY_KEY}
    print(f"start-up: `run` of 1 client x 1 session (3 client turns), {repeats} fresh process(es) each")
    double = {role: {"model": "testdouble/scripted"} for role in ROLES}
    wall, line = _figures("  test double (in process, no LiteLLM)", [_run_command(double, environment)
                                                                        for _ in range(repeats)])
    print(line)
    print(verdict("  test double, whole command", wall, TARGET_S, unit="s"))
    litellm = _import_seconds("litellm", environment)
    with serving(None) as url:
        api = {role: {"model": f"openai/mock-{role}", "api_base": url} for role in ROLES}
        wall, line = _figures("  API models (mock server, through LiteLLM)", [_run_command(api, environment)
                                                                             for _ in range(repeats)])
    print(line)
    print(f"  LiteLLM's own import, alone: {litellm:.2f} s")
    print(verdict("  API models, whole command less LiteLLM's import", wall - litellm, TARGET_S, unit="s"))
    if local:
        embedded = {role: {"model": "local/smollm2-135m-instruct", "max_tokens": 40} for role in ROLES}
        runs = [_run_command(embedded, environment) for _ in range(repeats)]
        wall, line = _figures("  embedded SmolLM2 (in process)", runs)
        print(line)
        campaign = percentile([inside for _, inside in runs], 50)
        print(verdict("  embedded model, whole command less the campaign", wall - campaign, TARGET_S, unit="s"))
