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
  state carries something;
* ``distress_drop``: the seeker's intensity drop vs the simulated client's own distress change
  (its state, start minus end), the outcome `eval` reports as ``distress_change`` (``seeded_rho`` too);
* for data that carry the seeker's questionnaire totals (``esconv``, "Beyond ESConv"): ``phq9_change``
  and ``gad7_change`` (after minus before) and ``wai_total``, the client's answers to the same
  questionnaires vs the seeker's, as `eval` reports them.

Every target is reported twice: as the client heard the conversation (the seeker's words up to the
turn rated, or up to the supporter's last turn for the end of the session), and with the seeker's
words masked (``masked``: the supporter's turns only). A figure that holds only with the seeker's
words lives on what the seeker said, not on what the supporter did. The shuffled control permutes
whole conversations (``figures``). With ``config`` the campaign's client settings apply: its
client model and scoring, appraisal, self-report mode and ``client_dynamics``.

What the client's model did not give (filled in) is no rating of the client's: such pairs are left out
and counted per target (``filled_in_left_out``; ``replay``), as eval leaves such answers out.

Writes ``validity.json`` (the figures, the skipped conversations and why, the settings) and
``replays.jsonl`` (per conversation: the rated pairs and the client's answers) into OUT.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from muspsy_sim.agents.client import DynamicsParams, build_appraiser
from muspsy_sim.agents.client.dynamics import DynamicsParameterError
from muspsy_sim.agents.judge import Judge
from muspsy_sim.agents.llm import ModelSpec
from muspsy_sim.agents.llm.routing import servable

from ..config import DEFAULT_MODEL, CampaignConfig, RoleModel
from ..core.errors import InputError
from ..core.files import write_json_atomic, write_jsonl_atomic
from ..core.usage import RoleUsage, sum_tables
from ..engine.components import role_model
from .esconv import read_conversations
from .figures import left_out_line, notes_line, spearman, target_figures
from .judge_check import judge_conversations
from .replay import Replayed, replay

TARGETS = ("turn_appraisal", "empathy", "relevance", "intensity_drop", "distress_drop")
# Targets for data that carry the seeker's questionnaire totals: target -> (instrument, change or not).
QUESTIONNAIRE_TARGETS = {"phq9_change": ("phq9", True), "gad7_change": ("gad7", True), "wai_total": ("wai_sr", False)}
VALIDITY = "validity.json"
REPLAYS = "replays.jsonl"
NOTE = ("Spearman rho of the simulated client's ratings with the help-seekers' own; 95% interval by resampling "
        "conversations; shuffled_rho: the same with whole conversations' human ratings permuted (near 0); masked: "
        "the same with the client hearing the supporter's turns only, none of the seeker's words.")
SEEDED = ("intensity_drop", "distress_drop")


def _total(totals: dict[str, int | None], change: bool) -> float | None:
    """The client's (or seeker's) total, or its change; None when not asked or an answer in it was filled in."""
    after, before = totals.get("after"), totals.get("before")
    if change:
        return None if after is None or before is None else float(after - before)
    return None if after is None else float(after)


def _groups(replays: list[Replayed]) -> tuple[dict[str, list[list[tuple[float, float]]]], dict[str, int]]:
    """The pairs per target, and per target the pairs left out because the client's side was filled in (or
    measured on a state that moved on filled-in appraisal items: the end-of-session targets, as eval does)."""
    groups: dict[str, list[list[tuple[float, float]]]] = {target: [] for target in (*TARGETS, *QUESTIONNAIRE_TARGETS)}
    dropped: dict[str, int] = {}

    def pair(target: str, client: float | None, seeker: float, stale: bool) -> None:
        if client is None or stale:
            dropped[target] = dropped.get(target, 0) + 1
        else:
            groups[target].append([(client, seeker)])

    for done in replays:
        groups["turn_appraisal"].append([(score, float(feedback)) for score, feedback in done.rated])
        if done.rated_left_out:
            dropped["turn_appraisal"] = dropped.get("turn_appraisal", 0) + done.rated_left_out
        reported, survey, stale = done.reported, done.survey, done.moved_on_filled_in
        for target in ("empathy", "relevance"):
            if survey[target] is not None:
                mine = reported[target]
                pair(target, None if mine is None else float(mine), float(survey[target]), stale)
        initial, final = survey["initial_emotion_intensity"], survey["final_emotion_intensity"]
        if initial is not None and final is not None:
            mine = reported["final_intensity"]
            pair("intensity_drop", None if mine is None else float(initial - mine), float(initial - final), stale)
            pair("distress_drop", done.distress_drop, float(initial - final), stale)
        for target, (key, change) in QUESTIONNAIRE_TARGETS.items():
            seeker = _total(done.seeker_questionnaires.get(key, {}), change)
            if seeker is not None:  # the client answered the same moments
                pair(target, _total(done.questionnaires.get(key, {}), change), seeker, stale)
    return {target: pairs for target, pairs in groups.items() if target in TARGETS or pairs}, dropped


def _figures(replays: list[Replayed], seed: int) -> tuple[dict[str, dict], dict[str, int]]:
    """The figures of every target (questionnaire targets only when the data carry them), and the pairs
    left out per target because the client's side was filled in."""
    groups, dropped = _groups(replays)
    targets = {target: target_figures(pairs, seed) for target, pairs in groups.items()}
    surveys = [r.survey for r in replays]
    seeded = spearman([(float(s["initial_emotion_intensity"]),
                        float(s["initial_emotion_intensity"] - s["final_emotion_intensity"]))
                       for s in surveys if s["initial_emotion_intensity"] is not None
                       and s["final_emotion_intensity"] is not None])
    for target in SEEDED:
        targets[target]["seeded_rho"] = None if seeded is None else round(seeded, 4)
    return targets, dropped


def _methods(replays: list[Replayed]) -> dict[str, dict[str, int]]:
    """How the client's appraisals and its self-reports (session rating, questionnaires) were given, by method."""
    methods: dict[str, dict[str, int]] = {"appraisal": {}, "self_report": {}}
    for done in replays:
        for part, counts in (("appraisal", done.appraisal_methods), ("self_report", done.self_report_methods)):
            for method, count in counts.items():
                methods[part][method] = methods[part].get(method, 0) + count
    return methods


def run_validity(path: Path, out: Path, *, client_model: str | None = None, appraisal: str | None = None,
                 self_report: str | None = None, limit: int | None = None, seed: int = 0,
                 on_conversation: Callable[[int, int], None] | None = None, judge_model: str | None = None,
                 config: CampaignConfig | None = None, config_source: str | None = None) -> dict:
    """Replay the conversations of ``path`` and write the figures into ``out``; returns validity.json's data.

    ``config``: a campaign's settings for the client (its model and scoring, appraisal, self-report mode,
    ``client_dynamics``); the other arguments, when given, override them. ``judge_model``: also have the
    judge rate each conversation against the seekers' survey (``judge_check``).
    """
    settings = config.models.client if config is not None else RoleModel(model=DEFAULT_MODEL)
    appraisal = appraisal or (config.client.appraisal if config is not None else "rules")
    self_report = self_report or (config.client.self_report if config is not None else "model")
    try:
        if client_model:
            settings = settings.model_copy(update={"model": ModelSpec.parse(client_model), "api_base": None})
        servable(settings.model)
    except ValueError as error:
        raise InputError("--client-model", "", str(error)) from None
    try:
        if judge_model is not None:
            servable(ModelSpec.parse(judge_model))
    except ValueError as error:
        raise InputError("--judge-model", "", str(error)) from None
    model = settings.model.text
    overrides = dict(config.client_dynamics) if config is not None else {}
    try:
        params = DynamicsParams.from_overrides(overrides)
    except DynamicsParameterError as error:
        raise InputError(config_source or "--config", f"client_dynamics.{error.field}", str(error)) from None
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
    llm = role_model(settings)
    appraiser = build_appraiser(appraisal, llm, legacy_cues=params.legacy)  # the cues the campaign's client reads
    started = time.perf_counter()
    replays, masked = [], []
    for number, conversation in enumerate(conversations, start=1):
        replays.append(replay(conversation, appraiser, llm, self_report, params, seed))
        masked.append(replay(conversation, appraiser, llm, self_report, params, seed, masked=True))
        if on_conversation:
            on_conversation(number, len(conversations))
    targets, left_out = _figures(replays, seed)
    masked_targets, masked_left_out = _figures(masked, seed)
    methods, masked_methods = _methods(replays), _methods(masked)
    judged = None if judge_model is None else judge_conversations(
        conversations, Judge(role_model(RoleModel(model=judge_model, temperature=0.0, max_tokens=32))), seed)
    result = {
        "source": str(path), "format": "esconv", "client_model": model, "appraisal": appraisal,
        "self_report": self_report, "scoring": settings.scoring, "client_dynamics": overrides,
        "config": config_source, "seed": seed,
        "conversations": {"replayed": len(replays), "rated_turns": sum(len(r.rated) for r in replays),
                          "skipped": [{"index": s.index, "reason": s.reason} for s in skipped], "limit": limit},
        "targets": targets,
        "masked": masked_targets,
        "judge": judged,
        "methods": methods,
        "masked_methods": masked_methods,
        "filled_in_left_out": left_out,
        "masked_filled_in_left_out": masked_left_out,
        "usage": sum_tables({"client": r.usage} for r in replays + masked).get("client", RoleUsage()).to_dict(),
        "seconds": round(time.perf_counter() - started, 3),
        "note": NOTE,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / REPLAYS, ({"index": r.index, "rated": r.rated, "reported": r.reported,
                                        "latent": r.session_rating.latent, "survey": r.survey,
                                        "distress_drop": round(r.distress_drop, 4), "questionnaires": r.questionnaires,
                                        "rated_left_out": r.rated_left_out, "moved_on_filled_in": r.moved_on_filled_in,
                                        "masked": {"rated": m.rated, "reported": m.reported,
                                                   "distress_drop": round(m.distress_drop, 4)}}
                                       for r, m in zip(replays, masked)))
    write_json_atomic(out / VALIDITY, result)
    return result


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _cells(figures: dict | None) -> tuple[str, str]:
    """"rho [low, high]" and "shuffled's band" of one target's figures."""
    if not figures:
        return "-", "-"
    rho = f"{_number(figures['rho'])} [{_number(figures['ci_low'])}, {_number(figures['ci_high'])}]"
    null = f"{_number(figures['shuffled_low'])} .. {_number(figures['shuffled_high'])}"
    return rho, null


def validity_table(result: dict) -> Table:
    table = Table(title=f"Simulated client vs help-seekers: {result['client_model']}, appraisal {result['appraisal']}, "
                        f"self-report {result['self_report']} ({result['conversations']['replayed']} conversations)")
    table.add_column("target", no_wrap=True)
    for column in ("n", "rho [95% CI]", "shuffled band", "seeker's words masked: rho", "its shuffled band"):
        table.add_column(column, justify="right")
    masked = result.get("masked") or {}
    for target, figures in result["targets"].items():
        table.add_row(target, str(figures["n"]), *_cells(figures), *_cells(masked.get(target)))
    for target, figures in ((result.get("judge") or {}).get("targets") or {}).items():
        table.add_row(f"{target} (judge)", str(figures["n"]), *_cells(figures), "-", "-")
    seeded = result["targets"]["intensity_drop"].get("seeded_rho")
    table.caption = (f"intensity_drop and distress_drop of a client whose end state never varies: {_number(seeded)}; "
                     "shuffled: whole conversations' human ratings permuted; masked: the client heard the supporter's "
                     f"turns only; skipped conversations: {len(result['conversations']['skipped'])}. "
                     + left_out_line(result.get("filled_in_left_out")) + " "
                     + notes_line({**result["targets"], **((result.get("judge") or {}).get("targets") or {})}))
    return table
