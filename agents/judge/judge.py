"""The judge: rates a session transcript on the MusPsy dimensions and CTRS-style items.

Prompts are versioned folders (``prompts/v1``); every score records the judge's
model, prompt version and how the transcript was cut. A score is always a valid 1-5
value: likelihood over the options for local models, validated JSON with retries for
API models (``LanguageModel.score_choices``).

A transcript longer than ``transcript_chars`` is cut in the middle: the opening
(where the last assignment is reviewed) and the end (where the new one is agreed)
are kept, each about half the budget, at line ends, with a marked gap between them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import yaml

from muspsy_sim.simulation.core.turns import Turn, format_turns

from ..llm import Completion, LanguageModel
from ..prompting import render

PROMPTS = Path(__file__).resolve().parent / "prompts"
DEFAULT_VERSION = "v1"
SCALE = ["1", "2", "3", "4", "5"]


@lru_cache(maxsize=None)
def versions() -> list[str]:
    """The prompt versions: the folders under ``prompts/``."""
    return sorted(path.name for path in PROMPTS.iterdir() if path.is_dir() and not path.name.startswith((".", "_")))


def dimensions(version: str = DEFAULT_VERSION) -> dict[str, dict[str, str]]:
    """``{"musPsy": {name: definition}, "ctrs": {...}}`` for a prompt version."""
    return yaml.safe_load((PROMPTS / version / "dimensions.yaml").read_text(encoding="utf-8"))


def cut_transcript(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its opening and end with the middle cut (marked)."""
    if len(text) <= limit:
        return text
    half = max(1, limit // 2)
    head, tail = text[:half], text[-half:]
    if "\n" in head:
        head = head[:head.rfind("\n")]  # whole lines only
    if "\n" in tail:
        tail = tail[tail.find("\n") + 1:]
    lines = text[len(head):len(text) - len(tail)].strip("\n").count("\n") + 1
    return f"{head}\n[... {lines} lines from the middle of the session cut to fit ...]\n{tail}"


class Judge:
    def __init__(self, llm: LanguageModel, prompt_version: str = DEFAULT_VERSION, transcript_chars: int = 2500):
        # The version names a folder: only the folders that are there, never a path.
        if prompt_version not in versions():
            raise ValueError(f"unknown judge prompt version '{prompt_version}' (one of {', '.join(versions())})")
        self.llm = llm
        self.prompt_version = prompt_version
        self.transcript_chars = transcript_chars

    def describe(self) -> dict:
        return {"model": self.llm.model, "prompt_version": self.prompt_version,
                "transcript": f"opening and end kept, middle cut ({self.transcript_chars} characters)"}

    def item_names(self) -> list[str]:
        """The names of the scores ``rate`` gives (``judge_*``, ``ctrs_*``)."""
        items = dimensions(self.prompt_version)
        return [f"{prefix}_{name}" for group, prefix in (("musPsy", "judge"), ("ctrs", "ctrs")) for name in items[group]]

    def rate(self, turns: Sequence[Turn], session_index: int, pseudonym: str,
             seed: int = 0) -> tuple[dict[str, dict], list[Completion]]:
        """Scores of one session by item, e.g. ``{"judge_empathy": {"score": 4, "method": "likelihood"}, ...}``."""
        transcript = cut_transcript(format_turns(turns), self.transcript_chars)
        scores, completions = {}, []
        for group, prefix in (("musPsy", "judge"), ("ctrs", "ctrs")):
            for offset, (name, definition) in enumerate(dimensions(self.prompt_version)[group].items()):
                fixed = {"session_index": session_index, "pseudonym": pseudonym,
                         "dimension": name.replace("_", " "), "definition": definition}
                template = PROMPTS / self.prompt_version / "rate_dimension.txt"
                prompt = render(template, transcript=transcript, **fixed)
                baseline = [{"role": "user", "content": render(template, transcript="N/A", **fixed)}]
                scored = self.llm.score_choices([{"role": "user", "content": prompt}], SCALE, seed=seed + offset,
                                                baseline=baseline)
                scores[f"{prefix}_{name}"] = {"score": int(scored.choice), "method": scored.method}
                completions.extend(scored.completions)
        return scores, completions
