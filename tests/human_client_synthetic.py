"""Synthetic runs a person "played" as the client, with planted ratings (never real people's data).

Each session's counselor turns are drawn from a ladder of messages whose lexical cues the rules
appraiser reads (``tests.esconv_synthetic.RULES_LADDER``), between turns of a person's own words.
``planted`` decides each rating from the counselor turn: ``follow_rules`` gives what the rules
appraiser's cue says (1 + 4 x cue, rounded), ``unrelated`` draws it at random, whatever the turn.
The run directory is what `practice --as client` writes: a manifest whose config has
``client.kind: human``, and records with ``client: human``, the rater, and ``turn_ratings``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

from muspsy_sim.agents.client.appraisal import appraise
from muspsy_sim.agents.client.questionnaires import instruments
from muspsy_sim.simulation.config import load_config
from muspsy_sim.simulation.engine.human_client import person_questionnaire
from muspsy_sim.simulation.record.run_directory import RunDirectory
from muspsy_sim.simulation.record.schema import Manifest, SessionRecord
from tests.conftest import scripted_config
from tests.esconv_synthetic import RULES_LADDER, SEEKER

ITEMS = ("empathy", "relevance", "push", "engagement")
Planted = Callable[[str, str, str, random.Random], int | None]  # (item, counselor text, last client text, rng)


def follow_rules(item: str, counselor: str, said: str, rng: random.Random) -> int | None:
    """The rating the rules appraiser's cue gives (engagement, which it does not rate: a random one)."""
    cue = getattr(appraise(counselor, said), item, None)
    return rng.randint(1, 5) if item == "engagement" or cue is None else int(round(1 + 4 * cue))


def unrelated(item: str, counselor: str, said: str, rng: random.Random) -> int | None:
    return rng.randint(1, 5)


def noisy(planted: Planted, noise: float) -> Planted:
    """``planted`` moved one step up or down with probability ``noise`` (a second, less careful rater)."""
    def rate(item: str, counselor: str, said: str, rng: random.Random) -> int | None:
        rating = planted(item, counselor, said, rng)
        if rating is not None and rng.random() < noise:
            rating = min(5, max(1, rating + rng.choice((-1, 1))))
        return rating
    return rate


def dialogue(rng: random.Random, turns: int) -> list[dict]:
    """Counselor turns from the ladder between the person's own words; the last counselor turn closes."""
    levels = [rng.randint(1, 5) for _ in range(turns)]
    dialog = []
    for number, level in enumerate(levels):
        closing = number == len(levels) - 1
        dialog.append({"speaker": "counselor", "text": RULES_LADDER[level], "stage": "closing" if closing else
                       ("opening" if number == 0 else "middle"), "source": "model", "retrieved": []})
        if not closing:
            dialog.append({"speaker": "client", "text": rng.choice(SEEKER), "appraisal": None, "disclosed_fact": None,
                           "risk_disclosed": False, "source": "human"})
    return dialog


def _answers(key: str, rng: random.Random, skip: float = 0.1) -> dict:
    instrument = instruments()[key]
    return person_questionnaire(key, [None if rng.random() < skip else rng.choice(instrument.values)
                                      for _ in instrument.items]).to_dict()


def write_person_run(tmp_path: Path, name: str, rater: str, planted: Planted, *, clients=("gad-priya-38",),
                     sessions: int = 3, turns: int = 5, seed: int = 0, dialogues: dict | None = None) -> Path:
    """A run directory of ``clients`` x ``sessions`` sessions played by ``rater``; returns its path.

    ``dialogues`` (client, session) -> turns reuses given dialogues (two raters of the same sessions); the
    dialogues written are added to it.
    """
    rng = random.Random(f"{seed}-{name}")
    (tmp_path / name).mkdir(parents=True, exist_ok=True)
    config_path = scripted_config(tmp_path / name, scenarios=list(clients), sessions=sessions,
                                  client={"kind": "human", "rater": rater}, name=name,
                                  output_dir=str(tmp_path / "runs"))
    config = load_config(config_path)
    run_dir = RunDirectory(config.run_dir())
    run_dir.open(Manifest.new(config, str(config_path), list(clients)))
    dialogues = {} if dialogues is None else dialogues
    state = {"distress": 6.0, "trust": 4.0}
    for client_id in clients:
        for index in range(1, sessions + 1):
            turns_ = dialogues.setdefault((client_id, index), dialogue(rng, turns))
            ratings, said = [], ""
            for position, turn in enumerate(turns_):
                if turn["speaker"] == "client":
                    said = turn["text"]
                    continue
                ratings += [{"turn": position, "item": item, "rating": planted(item, turn["text"], said, rng),
                             "source": "human", "rater": rater} for item in ITEMS]
            questionnaires = {key: _answers(key, rng) for key in ("phq9", "gad7", "wai_sr", "panas")}
            if index == sessions:
                questionnaires["exit"] = {key: _answers(key, rng) for key in ("phq9", "gad7")}
            run_dir.append_session(SessionRecord.model_validate({
                "campaign": name, "client_id": client_id, "session_index": index, "counselor": "muspsy",
                "models": {"counselor": "testdouble/scripted"}, "seed": 11, "goal": "practise one coping step",
                "goal_source": "model", "turns": turns_, "ended_by": "counselor",
                "client_state_start": state, "client_state_end": state,
                "week_before": None if index == 1 else {"life_events": [], "random_events": [], "homework_done": True,
                                                        "distress_change": 0.0, "stage_of_change": "contemplation"},
                "questionnaires": questionnaires,
                "memory": {"session_index": index, "counseling_assignments": "write down one worry each evening"},
                "usage": {}, "client": "human", "rater": rater, "turn_ratings": ratings,
            }))
        run_dir.set_course(client_id, status="finished", sessions_done=sessions)
    return run_dir.path
