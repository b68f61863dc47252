"""Counselor classes plugged in by import path in tests (``tests.plugins:Class``)."""

from __future__ import annotations

import json
from pathlib import Path

from muspsy_sim.agents.counselor.muspsy import MusPsyCounselor


class CrashOnceCounselor(MusPsyCounselor):
    """Logs every turn it is asked for, and raises once at a given call to simulate a crash."""

    name = "crash-once"

    def __init__(self, *args, workdir: str, crash_at_call: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.workdir = Path(workdir)
        self.crash_at_call = crash_at_call
        self.calls = 0

    def respond(self, context, turns, stage, seed):
        self.calls += 1
        flag = self.workdir / "crashed"
        if self.calls == self.crash_at_call and not flag.exists():
            flag.touch()
            raise RuntimeError("simulated crash")
        with open(self.workdir / "calls.jsonl", "a") as log:
            log.write(json.dumps([context.client_id, context.session_index, len(turns)]) + "\n")
        return super().respond(context, turns, stage, seed)


class ModelOnlyCounselor:
    """A counselor that speaks but does not render its prompts without a model (no PromptRenderer methods)."""

    name = "model-only"

    def __init__(self, llm, sampling, store=None, top_k: int = 3):
        self.llm = llm

    def plan_goal(self, context, seed):
        raise NotImplementedError

    def respond(self, context, turns, stage, seed):
        raise NotImplementedError

    def extract_memory(self, context, turns, seed):
        raise NotImplementedError

    def describe(self):
        return {"name": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}", "options": {}}


class KillWorkerOnceCounselor(MusPsyCounselor):
    """Kills its own process (SIGKILL, as the OOM killer or a lost node would) at one call of one course, once:
    a Ray worker dying mid-course. Logs every turn it is asked for, like ``CrashOnceCounselor``."""

    name = "kill-worker-once"

    def __init__(self, *args, workdir: str, client_id: str, kill_at_call: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.workdir = Path(workdir)
        self.client_id = client_id
        self.kill_at_call = kill_at_call
        self.calls = 0

    def respond(self, context, turns, stage, seed):
        import os
        import signal

        if context.client_id == self.client_id:
            self.calls += 1
            flag = self.workdir / "killed"
            if self.calls == self.kill_at_call and not flag.exists():
                flag.write_text(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
        with open(self.workdir / "calls.jsonl", "a") as log:
            log.write(json.dumps([context.client_id, context.session_index, len(turns)]) + "\n")
        return super().respond(context, turns, stage, seed)
