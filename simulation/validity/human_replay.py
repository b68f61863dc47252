"""Replaying a person's client sessions through the simulated client built from the same profile.

Replay, not regenerate: the counselor turns are the recorded ones, and the person's own turns are
what the client said. The simulated client starts from the profile's initial state and lives the
course as a campaign client would: before each session the week the person was told of (the recorded
events and homework; ``between_sessions(happened=...)``) and PHQ-9 and GAD-7; after each counselor
turn its appraisal (rules or its model), which moves its state by the usual dynamics; after the
session WAI-SR and PANAS, and after the last one PHQ-9 and GAD-7 again (the exit assessment).

No leak from the future: a counselor turn is appraised with the dialogue up to and including that
turn (the person's words after it are not there), and the end-of-session questionnaires see the
dialogue up to the last counselor turn, never the person's words after it. The person's ratings and
answers never reach the simulated client; they are only set beside its own (``ReplayedSession``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from muspsy_sim.agents.client import AppraisalContext, ClientState, SimulatedClient
from muspsy_sim.agents.client.dynamics import after_counselor_turn, between_sessions, trust_change
from muspsy_sim.agents.client.questionnaires import AT_END, AT_START
from muspsy_sim.agents.llm import Completion, sum_usage, usage_of
from muspsy_sim.scenarios.profile import CaseProfile
from muspsy_sim.simulation.record.schema import SessionRecord
from muspsy_sim.simulation.seeding import derive_rng, derive_seed

# The questionnaire scales compared: (instrument, subscale or None for the total).
SCALES = (("phq9", None), ("gad7", None), ("wai_sr", None), ("wai_sr", "goal"), ("wai_sr", "task"),
          ("wai_sr", "bond"), ("panas", "positive"), ("panas", "negative"))


def scale_name(key: str, subscale: str | None) -> str:
    return key if subscale is None else f"{key}.{subscale}"


def scale_value(entry: dict | None, subscale: str | None) -> float | None:
    """A questionnaire record's total or subscale, None where it is missing or incomplete."""
    if not entry:
        return None
    value = entry.get("total") if subscale is None else (entry.get("subscales") or {}).get(subscale)
    return None if value is None else float(value)


@dataclass
class ReplayedSession:
    """One person's session, and what the simulated client made of the same counselor turns."""

    run: str
    client_id: str
    session_index: int
    rater: str
    # Per counselor turn the person rated: {"turn", "person": {item: 1..5 | None},
    # "simulated": {item: value on 1..5 | None}, "worth": the turn's trust change, "source"}.
    turns: list[dict] = field(default_factory=list)
    # Per moment ("before", "after", "exit") and instrument: {"person": record, "simulated": record}.
    questionnaires: dict[str, dict[str, dict]] = field(default_factory=dict)
    appraisal_methods: dict[str, int] = field(default_factory=dict)
    self_report_methods: dict[str, int] = field(default_factory=dict)
    usage: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.run}/{self.client_id}/{self.session_index}"

    def scale_pairs(self) -> dict[str, list[tuple[float, float]]]:
        """(simulated, person) per scale, over the moments where both have a complete value."""
        pairs: dict[str, list[tuple[float, float]]] = {}
        for moment in self.questionnaires.values():
            for key, subscale in SCALES:
                both = moment.get(key)
                if not both:
                    continue
                simulated, person = scale_value(both["simulated"], subscale), scale_value(both["person"], subscale)
                if simulated is not None and person is not None:
                    pairs.setdefault(scale_name(key, subscale), []).append((simulated, person))
        return pairs


def _count(into: dict[str, int], methods: dict[str, int]) -> None:
    for method, count in methods.items():
        into[method] = into.get(method, 0) + count


def _heard(record: SessionRecord) -> list[dict]:
    """The session's turns as plain data, without anything the person rated (ratings are session-level)."""
    return [turn.to_dict() for turn in record.turns]


def replay_course(run: str, profile: CaseProfile, records: list[SessionRecord], client: SimulatedClient,
                  seed: int) -> list[ReplayedSession]:
    """Replay one person's course (their sessions of one profile in one run, by session) through ``client``."""
    state = ClientState.initial(profile)
    earlier: list[list[dict]] = []
    previous: SessionRecord | None = None
    replayed = []
    for record in sorted(records, key=lambda r: r.session_index):
        index = record.session_index
        completions: list[Completion] = []
        done = ReplayedSession(run, profile.id, index, record.rater or "")
        week = record.week_before.to_dict() if record.week_before is not None else None
        if previous is not None:
            had_assignment = bool(previous.memory and previous.memory.counseling_assignments)
            state, _ = between_sessions(state, list(profile.plan_for(index).life_events), had_assignment, client.params,
                                        derive_rng(seed, profile.id, index, "week"), happened=week or {})

        def ask(keys: tuple[str, ...], moment: str, turns: list[dict]) -> None:
            answers, used = client.answer_questionnaires(profile, index, state, keys,
                                                         derive_seed(seed, profile.id, index, f"questionnaires-{moment}"),
                                                         turns=turns, week=week)
            completions.extend(used)
            person = (record.questionnaires.exit if moment == "exit" else record.questionnaires) \
                if record.questionnaires is not None else None
            for key in keys:
                _count(done.self_report_methods, answers[key]["methods"])
                mine = getattr(person, key, None) if person is not None else None
                done.questionnaires.setdefault(moment, {})[key] = {
                    "simulated": answers[key], "person": mine.to_dict() if mine is not None else None}

        ask(AT_START, "before", [])
        heard: list[dict] = []
        rated = {rating.turn for rating in record.turn_ratings}
        for position, turn in enumerate(_heard(record)):
            heard.append(turn)
            if turn["speaker"] != "counselor":
                continue
            # The dialogue up to and including this counselor turn: nothing the person said after it.
            context = AppraisalContext(profile, index, state, list(heard), earlier,
                                       derive_seed(seed, profile.id, index, position, "appraisal"))
            appraisal, used = client.appraiser.appraise(context)
            completions.extend(used)
            _count(done.appraisal_methods, appraisal.methods)
            if position in rated:
                ratings = {r.item: r.rating for r in record.turn_ratings if r.turn == position}
                simulated = {item: None if getattr(appraisal, item, None) is None
                             else round(1 + 4 * float(getattr(appraisal, item)), 4) for item in ratings}
                done.turns.append({"turn": position, "person": ratings, "simulated": simulated,
                                   "worth": round(trust_change(appraisal, state.resistance, client.params), 4),
                                   "source": appraisal.source})
            state = after_counselor_turn(state, appraisal, client.params,
                                         derive_rng(seed, profile.id, index, position, "dynamics"))
        last_counselor = max((i for i, t in enumerate(heard) if t["speaker"] == "counselor"), default=-1)
        seen = heard[: last_counselor + 1]  # the end-of-session answers see nothing after the last counselor turn
        ask(AT_END, "after", seen)
        if record.questionnaires is not None and record.questionnaires.exit is not None:
            ask(AT_START, "exit", seen)
        done.usage = sum_usage({"client": usage_of(c)} for c in completions).get("client", {})
        replayed.append(done)
        earlier.append(heard)
        previous = record
    return replayed

