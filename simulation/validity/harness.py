"""`run_sim.py validity esconv PATH`: how far the simulated client rates like real help-seekers.

Every replayable conversation of the file is replayed through the simulated client
(``replay``); the figures (``figures``) compare what the client made of it with what the
help-seeker said, per target:

* ``turn_appraisal``: the client's appraisal of the supporter's messages (how much they move its
  trust) vs the seeker's feedback on them (1..5), at every rated seeker turn;
* ``empathy``, ``relevance``: the client's end-of-session answers vs the seeker's survey;
* ``intensity_drop``: initial minus final emotion intensity, the client's (its final answer) vs
  the seeker's. Both start from the seeker's initial intensity, so ``seeded_rho`` gives what a
  client whose final answer never varies would get: only a rho above it says the client's end
  state carries something.

Writes ``validity.json`` (the figures, the skipped conversations and why, the settings) and
``replays.jsonl`` (per conversation: the rated pairs and the client's answers) into OUT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from muspsy_sim.agents.client import DynamicsParams, build_appraiser
from muspsy_sim.agents.judge import Judge
from muspsy_sim.agents.llm import ModelSpec
from muspsy_sim.agents.llm.routing import servable

from ..config import DEFAULT_MODEL, RoleModel
from ..core.errors import InputError
from ..core.files import write_json_atomic, write_jsonl_atomic
from ..core.usage import RoleUsage, sum_tables
from ..engine.components import role_model
from .esconv import read_conversations
from .figures import spearman, target_figures
from .judge_check import judge_conversations
from .replay import Replayed, replay

TARGETS = ("turn_appraisal", "empathy", "relevance", "intensity_drop")
VALIDITY = "validity.json"
REPLAYS = "replays.jsonl"
NOTE = ("Spearman rho of the simulated client's ratings with the help-seekers' own; 95% interval by resampling "
        "conversations; shuffled_rho: the same with the human ratings shuffled across conversations (near 0).")


def _groups(replays: list[Replayed]) -> dict[str, list[list[tuple[float, float]]]]:
    groups: dict[str, list[list[tuple[float, float]]]] = {target: [] for target in TARGETS}
    for done in replays:
        groups["turn_appraisal"].append([(score, float(feedback)) for score, feedback in done.rated])
        reported, survey = done.reported, done.survey
        for target in ("empathy", "relevance"):
            if survey[target] is not None:
                groups[target].append([(float(reported[target]), float(survey[target]))])
        initial, final = survey["initial_emotion_intensity"], survey["final_emotion_intensity"]
        if initial is not None and final is not None:
            groups["intensity_drop"].append([(float(initial - reported["final_intensity"]), float(initial - final))])
    return groups


def run_validity(path: Path, out: Path, *, client_model: str | None = None, appraisal: str = "rules",
                 self_report: str = "model", limit: int | None = None, seed: int = 0,
                 on_conversation: Callable[[int, int], None] | None = None, judge_model: str | None = None) -> dict:
    """Replay the conversations of ``path`` and write the figures into ``out``; returns validity.json's data.

    ``judge_model``: also have the judge rate each conversation against the seekers' survey (``judge_check``).
    """
    model = client_model or DEFAULT_MODEL
    for option, given in (("--client-model", model), ("--judge-model", judge_model)):
        try:
            if given is not None:
                servable(ModelSpec.parse(given))
        except ValueError as error:
            raise InputError(option, "", str(error)) from None
    if appraisal not in ("rules", "model"):
        raise InputError("--appraisal", "", f"'{appraisal}' is not one of rules, model")
    if self_report not in ("model", "latent"):
        raise InputError("--self-report", "", f"'{self_report}' is not one of model, latent")
    conversations, skipped = read_conversations(path)
    if limit is not None:
        conversations = conversations[:limit]
    if not conversations:
        reasons = "; ".join(f"#{s.index}: {s.reason}" for s in skipped[:3])
        raise InputError(path, "", f"no conversation to replay ({len(skipped)} skipped{': ' + reasons if reasons else ''})")
    llm = role_model(RoleModel(model=model))
    appraiser = build_appraiser(appraisal, llm)
    params = DynamicsParams()
    started = time.perf_counter()
    replays = []
    for number, conversation in enumerate(conversations, start=1):
        replays.append(replay(conversation, appraiser, llm, self_report, params, seed))
        if on_conversation:
            on_conversation(number, len(conversations))
    groups = _groups(replays)
    targets = {target: target_figures(groups[target], seed) for target in TARGETS}
    surveys = [r.survey for r in replays]
    seeded = spearman([(float(s["initial_emotion_intensity"]), float(s["initial_emotion_intensity"] - s["final_emotion_intensity"]))
                       for s in surveys if s["initial_emotion_intensity"] is not None and s["final_emotion_intensity"] is not None])
    targets["intensity_drop"]["seeded_rho"] = None if seeded is None else round(seeded, 4)
    methods: dict[str, dict[str, int]] = {"appraisal": {}, "self_report": {}}
    for done in replays:
        for part, counts in (("appraisal", done.appraisal_methods), ("self_report", done.session_rating.methods)):
            for method, count in counts.items():
                methods[part][method] = methods[part].get(method, 0) + count
    judged = None if judge_model is None else judge_conversations(
        conversations, Judge(role_model(RoleModel(model=judge_model, temperature=0.0, max_tokens=32))), seed)
    result = {
        "source": str(path), "format": "esconv", "client_model": model, "appraisal": appraisal,
        "self_report": self_report, "seed": seed,
        "conversations": {"replayed": len(replays), "rated_turns": sum(len(r.rated) for r in replays),
                          "skipped": [{"index": s.index, "reason": s.reason} for s in skipped], "limit": limit},
        "targets": targets,
        "judge": judged,
        "methods": methods,
        "usage": sum_tables({"client": r.usage} for r in replays).get("client", RoleUsage()).to_dict(),
        "seconds": round(time.perf_counter() - started, 3),
        "note": NOTE,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / REPLAYS, ({"index": r.index, "rated": r.rated, "reported": r.reported,
                                        "latent": r.session_rating.latent, "survey": r.survey} for r in replays))
    write_json_atomic(out / VALIDITY, result)
    return result


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def validity_table(result: dict) -> Table:
    table = Table(title=f"Simulated client vs help-seekers: {result['client_model']}, appraisal {result['appraisal']}, "
                        f"self-report {result['self_report']} ({result['conversations']['replayed']} conversations)")
    for column in ("target", "n", "rho", "95% CI", "shuffled rho (95% band)"):
        table.add_column(column, justify="left" if column == "target" else "right")
    for target, figures in result["targets"].items():
        interval = f"{_number(figures['ci_low'])} .. {_number(figures['ci_high'])}"
        null = f"{_number(figures['shuffled_rho'])} ({_number(figures['shuffled_low'])} .. {_number(figures['shuffled_high'])})"
        table.add_row(target, str(figures["n"]), _number(figures["rho"]), interval, null)
    for target, figures in ((result.get("judge") or {}).get("targets") or {}).items():
        null = f"{_number(figures['shuffled_rho'])} ({_number(figures['shuffled_low'])} .. {_number(figures['shuffled_high'])})"
        table.add_row(f"{target} (judge)", str(figures["n"]), _number(figures["rho"]),
                      f"{_number(figures['ci_low'])} .. {_number(figures['ci_high'])}", null)
    seeded = result["targets"]["intensity_drop"].get("seeded_rho")
    table.caption = (f"intensity_drop of a client whose final answer never varies: {_number(seeded)}; "
                     f"skipped conversations: {len(result['conversations']['skipped'])}")
    return table
