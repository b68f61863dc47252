"""`run_sim.py validity human RUN...`: does the simulated client rate a counselor's turns as people did?

Every session a person played as the client (``practice --as client``) is replayed through the
simulated client built from the same profile (``human_replay``: the same counselor turns, the
person's words as the client's, nothing after the turn being rated). Per target the person's
ratings are set beside the simulated client's (``agreement``):

* the four appraisal items of every counselor turn (felt understood, addressed what I said, felt
  pushed or judged, want to go on; the rules appraiser's cues on the same 1..5 scale, 1 + 4 x cue;
  it has no "want to go on");
* the questionnaire scales of every session: PHQ-9, GAD-7 (before each session and after the last),
  WAI-SR total, goal, task, bond and PANAS positive, negative (after each session);
* with ``judge``: the judge's empathy and coherence ratings of each session against the person's mean
  "felt understood" and "addressed what I said" over its turns. The judge reads the session as eval has it
  read (the turns the program wrote masked, its seed derived per session) up to the last counselor turn:
  the person's words after it may state the verdict it is checked against.

Spearman's rho with a 95% interval resampling clusters (sessions, or raters when there are at least
``MIN_RATER_CLUSTERS`` of them), the conversation-level shuffled control and the mean difference. Where
two or more people rated the same counselor turn (the same profile, session and dialogue up to it: a course
forked and played on by someone else, whose next session opens alike with a deterministic counselor),
Krippendorff's alpha between them is the ceiling, beside the alpha of the simulated client with the people
on all rated turns. A session a fork copied into another run is replayed (the course goes on from it) but
counted once.

Writes ``validity.json`` (figures, settings, method counts), ``replays.jsonl`` (per session the pairs)
and ``ratings.csv`` (the person's and the simulated client's ratings, one row per turn/item and per
questionnaire item, joinable on run, client, session, turn and item).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from muspsy_sim.agents.client import DynamicsParams, SimulatedClient
from muspsy_sim.agents.judge import Judge
from muspsy_sim.agents.llm import ModelSpec, Sampling
from muspsy_sim.agents.llm.routing import servable

from ..config import RoleModel
from ..core.errors import InputError
from ..core.files import write_json_atomic, write_jsonl_atomic
from ..core.questionnaires import FALLBACK_METHOD
from ..core.turns import CounselorTurn, Turn, by_scaffold, last_counselor_index
from ..core.usage import RoleUsage, sum_tables
from ..engine.components import role_model
from ..engine.human_client import rating_items
from ..evaluation.run_eval import judged_turns
from ..record.ratings_table import appraisal_row, questionnaire_rows, session_rows, write_ratings
from ..record.run_log import RunLog
from ..record.schema import SESSIONS, SessionRecord
from ..seeding import derive_seed
from .agreement import Group, agreement_figures, krippendorff_alpha
from .figures import left_out_line, notes_line
from .human_replay import SCALES, ReplayedSession, replay_course, scale_name

VALIDITY = "validity.json"
REPLAYS = "replays.jsonl"
RATINGS = "ratings.csv"
MIN_RATER_CLUSTERS = 5
ITEM_LABELS = {"empathy": "felt understood", "relevance": "addressed what I said", "push": "felt pushed or judged",
               "engagement": "want to go on"}
# The judge's items set beside the person's per-session mean of an appraisal item.
JUDGE_PAIRS = {"judge_empathy": "empathy", "judge_coherence": "relevance"}
NOTE = ("Spearman rho of the simulated client's ratings with the person's, over the counselor turns (items) or "
        "sessions (scales); 95% interval resampling clusters; shuffled: whole conversations' person ratings "
        "permuted (a derangement), its mean and 95% band; mean_difference: simulated minus person.")


def person_courses(runs: list[Path]) -> list[tuple[RunLog, str, list[SessionRecord]]]:
    """(run, client id, its person-played sessions) for every course a person played in ``runs``."""
    courses = []
    for path in runs:
        run = RunLog.open(path)
        played = [record for record in run.sessions if record.played_by_person]
        if not played:
            raise InputError(run.path / SESSIONS, "client",
                             "no session played by a person (record them with `practice --as client`)")
        for client_id in sorted({record.client_id for record in played}):
            courses.append((run, client_id, [r for r in played if r.client_id == client_id]))
    paths: dict[str, Path] = {}
    for run, _, _ in courses:
        if paths.setdefault(run.name, run.path.resolve()) != run.path.resolve():
            raise InputError(run.path, "RUN", f"another run given is also named '{run.name}': give each person's run "
                                              "its own --name")
    return courses


def unit_key(record: SessionRecord, turn: int) -> str:
    """The same counselor turn in the same context: profile, session, and the whole dialogue up to it."""
    text = "\n".join(f"{t.speaker}: {t.text}" for t in record.turns[: turn + 1])
    return hashlib.sha256(f"{record.client_id}\n{record.session_index}\n{text}".encode()).hexdigest()[:16]


def _without_copies(courses, replays: list[ReplayedSession]) -> tuple[list[ReplayedSession], list[str]]:
    """The replays counted once: a session a fork copied into another run (same rater, profile, session and
    dialogue) was replayed to carry the course on, but its ratings are the same person's, counted once."""
    identity = {f"{run.name}/{client_id}/{r.session_index}": (r.rater, client_id, r.session_index,
                                                            unit_key(r, len(r.turns) - 1))
                for run, client_id, records in courses for r in records}
    seen, kept, copies = set(), [], []
    for done in replays:
        if identity[done.key] in seen:
            copies.append(done.key)
        else:
            seen.add(identity[done.key])
            kept.append(done)
    return kept, copies


def _resampled(replays: list[ReplayedSession], resample: str) -> str:
    if resample not in ("auto", "sessions", "raters"):
        raise InputError("--resample", "", f"'{resample}' is not one of auto, sessions, raters")
    if resample == "auto":
        return "raters" if len({r.rater for r in replays}) >= MIN_RATER_CLUSTERS else "sessions"
    return resample


def _groups(replays: list[ReplayedSession], by: str) -> dict[str, list[Group]]:
    groups: dict[str, list[Group]] = {}
    for done in replays:
        cluster = done.rater if by == "raters" else done.key
        for item in rating_items():
            pairs = [(t.simulated[item], float(t.person[item])) for t in done.turns
                     if t.person.get(item) is not None and t.simulated.get(item) is not None]
            groups.setdefault(item, []).append(Group(done.key, cluster, pairs))
        scales = done.scale_pairs()
        for key, subscale in SCALES:
            name = scale_name(key, subscale)
            groups.setdefault(name, []).append(Group(done.key, cluster, scales.get(name, [])))
    return groups


def _ceilings(courses, replays: list[ReplayedSession]) -> dict[str, dict]:
    """Per appraisal item: alpha between people on turns two or more rated, and of the simulated client with them."""
    people: dict[str, dict[str, dict[str, float]]] = {item: {} for item in rating_items()}
    with_simulated: dict[str, dict[str, dict[str, float]]] = {item: {} for item in rating_items()}
    replayed = {done.key: done for done in replays}
    for run, client_id, records in courses:
        for record in records:
            done = replayed.get(f"{run.name}/{client_id}/{record.session_index}")  # None: a copy, counted once
            simulated = {t.turn: t.simulated for t in done.turns} if done else {}
            for rating in record.turn_ratings:
                if rating.rating is None:
                    continue
                unit = unit_key(record, rating.turn)
                people[rating.item].setdefault(unit, {})[record.rater or run.name] = float(rating.rating)
                value = simulated.get(rating.turn, {}).get(rating.item)
                if value is not None:
                    key = f"{unit}/{record.rater or run.name}"
                    with_simulated[rating.item][key] = {"person": float(rating.rating), "simulated": round(value)}
    return {item: {"people": krippendorff_alpha(people[item]), "simulated_with_people":
                   krippendorff_alpha(with_simulated[item])} for item in rating_items()}


def judged_until_last_counselor_turn(turns: list[Turn]) -> list[Turn]:
    """The session as the judge reads it here: as eval masks it (the turns the program wrote masked,
    ``judged_turns``) and cut after the last counselor turn, as the ESConv check cuts it (the person's words
    after it may state the verdict the judge is checked against)."""
    return judged_turns(turns)[: last_counselor_index(turns) + 1]


def _judge_groups(judge: Judge, courses, replays: list[ReplayedSession], seed: int) -> tuple[dict, dict]:
    groups: dict[str, list[Group]] = {name: [] for name in JUDGE_PAIRS}
    methods: dict[str, int] = {}
    replayed = {done.key: done for done in replays}
    for run, client_id, records in courses:
        pseudonym = run.profiles()[client_id].pseudonym
        for record in records:
            done = replayed.get(f"{run.name}/{client_id}/{record.session_index}")
            if done is None:  # a copy of a session counted already
                continue
            turns = judged_until_last_counselor_turn(record.turns)
            if not any(isinstance(t, CounselorTurn) and not by_scaffold(t) for t in turns):
                continue  # the program wrote every counselor turn: nothing of the counselor's model to judge (eval)
            scores, _ = judge.rate(turns, record.session_index, pseudonym,
                                   derive_seed(seed, run.name, client_id, record.session_index, "judge"))
            for name, item in JUDGE_PAIRS.items():
                given = [float(t.person[item]) for t in done.turns if t.person.get(item) is not None]
                score = scores[name]
                methods[score["method"]] = methods.get(score["method"], 0) + 1
                if given and score["method"] != FALLBACK_METHOD:
                    groups[name].append(Group(done.key, done.key, [(float(score["score"]), sum(given) / len(given))]))
    return groups, methods


def _simulated_rows(done: ReplayedSession, rater: str) -> list[dict]:
    where = {"run": done.run, "client_id": done.client_id, "session_index": done.session_index,
             "client": "simulated", "rater": rater}
    rows = [appraisal_row(where, t.turn, item, value, t.source or "rules",
                          rating=int(round(value)) if t.source == "model" else None)
            for t in done.turns for item, value in t.simulated.items() if value is not None]
    for moment, instruments in done.questionnaires.items():
        for key, both in instruments.items():
            rows += questionnaire_rows(where, moment, key, both.simulated)
    return rows


def run_human_validity(runs: list[Path], out: Path, *, client_model: str | None = None, appraisal: str | None = None,
                       self_report: str | None = None, judge: bool = False, judge_model: str | None = None,
                       resample: str = "auto", seed: int = 0,
                       on_session: Callable[[int, int], None] | None = None) -> dict:
    """Replay the person-played sessions of ``runs`` and write the figures into ``out``; returns validity.json's data.

    The simulated client's model, appraisal and self-report default to the first run's settings (the client
    its campaigns would run).
    """
    if appraisal not in (None, "rules", "model"):
        raise InputError("--appraisal", "", f"'{appraisal}' is not one of rules, model")
    if self_report not in (None, "model", "latent"):
        raise InputError("--self-report", "", f"'{self_report}' is not one of model, latent")
    courses = person_courses(runs)
    first = courses[0][0].config
    appraisal = appraisal or first.client.appraisal
    self_report = self_report or first.client.self_report
    settings: dict[str, RoleModel] = {}
    for role, given, recorded in (("client", client_model, first.models.client),
                                  ("judge", judge_model, first.models.judge)):
        try:
            settings[role] = RoleModel(model=servable(ModelSpec.parse(given))) if given else recorded
        except ValueError as error:
            raise InputError(f"--{role}-model", "", str(error)) from None
    started = time.perf_counter()
    llm = role_model(settings["client"])
    total = sum(len(records) for _, _, records in courses)
    replays: list[ReplayedSession] = []
    for run, client_id, records in courses:
        client = SimulatedClient(llm, Sampling(), DynamicsParams.from_overrides(run.config.client_dynamics),
                                 appraisal=appraisal, self_report=self_report)
        replays += replay_course(run.name, run.profiles()[client_id], records, client, seed, run.config.seed)
        if on_session:
            on_session(len(replays), total)
    replays, copies = _without_copies(courses, replays)
    by = _resampled(replays, resample)
    groups = _groups(replays, by)
    targets = {name: agreement_figures(target, seed) for name, target in groups.items()}
    judged = None
    if judge:
        judge_groups, judge_methods = _judge_groups(Judge(role_model(settings["judge"])), courses, replays, seed)
        judged = {"model": settings["judge"].model.text, "methods": judge_methods, "pairs": JUDGE_PAIRS,
                  "targets": {name: agreement_figures(g, seed) for name, g in judge_groups.items()}}
    methods: dict[str, dict[str, int]] = {"appraisal": {}, "self_report": {}}
    left_out: dict[str, int] = {}
    for done in replays:
        for part, counts in (("appraisal", done.appraisal_methods), ("self_report", done.self_report_methods)):
            for method, count in counts.items():
                methods[part][method] = methods[part].get(method, 0) + count
        for name, count in done.left_out().items():
            left_out[name] = left_out.get(name, 0) + count
    result = {
        "format": "human", "runs": [str(path) for path in runs], "client_model": settings["client"].model.text,
        "appraisal": appraisal, "self_report": self_report, "seed": seed, "resampled": by,
        "sessions": {"replayed": len(replays), "raters": sorted({r.rater for r in replays}),
                     "rated_turns": sum(len(r.turns) for r in replays), "copies_left_out": copies},
        "targets": targets, "labels": ITEM_LABELS, "ceiling": _ceilings(courses, replays), "judge": judged,
        "methods": methods, "filled_in_left_out": left_out, "usage": sum_tables({"client": r.usage} for r in replays).get("client", RoleUsage()).to_dict(),
        "seconds": round(time.perf_counter() - started, 3), "note": NOTE,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out / REPLAYS, (r.to_dict() for r in replays))
    simulated_by = f"simulated ({settings['client'].model.text}, appraisal {appraisal}, self-report {self_report})"
    rows = [row for run, _, records in courses for record in records for row in session_rows(run.name, record)]
    write_ratings(out / RATINGS, rows + [row for done in replays for row in _simulated_rows(done, simulated_by)])
    write_json_atomic(out / VALIDITY, result)
    return result


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def human_table(result: dict) -> Table:
    table = Table(title=f"Simulated client vs people: {result['client_model']}, appraisal {result['appraisal']}, "
                        f"self-report {result['self_report']} ({result['sessions']['replayed']} sessions, "
                        f"{len(result['sessions']['raters'])} raters; intervals resample {result['resampled']})")
    for column in ("target", "n", "rho [95% CI]", "shuffled [95% band]", "sim - person [95% CI]",
                   "alpha people (units)", "alpha sim"):
        table.add_column(column, justify="left" if column == "target" else "right")
    targets = dict(result["targets"])
    targets.update((result.get("judge") or {}).get("targets", {}))
    for name, figures in targets.items():
        ceiling = result["ceiling"].get(name)
        people = ceiling["people"] if ceiling else None
        table.add_row(
            name, str(figures["n"]),
            f"{_number(figures['rho'])} [{_number(figures['ci_low'])}, {_number(figures['ci_high'])}]",
            f"{_number(figures['shuffled_rho'])} [{_number(figures['shuffled_low'])}, {_number(figures['shuffled_high'])}]",
            f"{_number(figures['mean_difference'])} [{_number(figures['difference_low'])}, "
            f"{_number(figures['difference_high'])}]",
            f"{_number(people['alpha'])} ({people['units']})" if people else "",
            _number(ceiling["simulated_with_people"]["alpha"]) if ceiling else "")
    labels = "; ".join(f"{item}: {label}" for item, label in result["labels"].items())
    table.caption = (f"Items: {labels}. A rho inside the shuffled band is no evidence of agreement. alpha people: "
                     "Krippendorff's alpha (ordinal) of people who rated the same counselor turns, the ceiling; alpha "
                     "sim: the simulated client with the people. " + left_out_line(result.get("filled_in_left_out"))
                     + " " + notes_line(targets))
    return table
