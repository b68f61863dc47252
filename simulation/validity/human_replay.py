"""Replaying a person's client sessions through the simulated client built from the same profile.

Replay, not regenerate: the counselor turns are the recorded ones, and the person's own turns are
what the client said. The simulated client starts from the profile's initial state, with the traits a
campaign of the run's seed draws for that profile (``campaign_traits``), and lives the course as a
campaign client would: before each session the week the person was told of (the recorded
events and homework; ``between_sessions(happened=...)``) and PHQ-9 and GAD-7; after each counselor
turn its appraisal (rules or its model), which moves its state by the usual dynamics; after the
session WAI-SR and PANAS, and after the last one PHQ-9 and GAD-7 again (the exit assessment).

No leak from the future: a counselor turn is appraised with the dialogue up to and including that
turn (the person's words after it are not there), and the end-of-session questionnaires see the
dialogue up to the last counselor turn, never the person's words after it. The person's ratings and
answers never reach the simulated client; they are only set beside its own (``ReplayedSession``).

What the client's model did not give is no rating of the client's (eval's rule): an appraisal item it
filled in pairs with nothing, a questionnaire total or subscale with a filled-in answer is None
(``entry_total``, ``entry_subscale``), and once the state moved on filled-in appraisal items the
session's later answers (``after`` and ``exit``) are left out. Each pair so dropped is counted per figure
(``ReplayedSession.left_out``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from muspsy_sim.agents.client import AppraisalContext, ClientState, SimulatedClient
from muspsy_sim.agents.client.dynamics import after_counselor_turn, between_sessions, trust_change
from muspsy_sim.agents.llm import Completion, usage_of
from muspsy_sim.scenarios.profile import CaseProfile

from ..core.course import Week
from ..core.questionnaires import AT_END, AT_START, QuestionnaireResult
from ..core.turns import CounselorTurn, Turn, heard_assignment, last_counselor_index
from ..core.usage import RoleUsage
from ..engine.states import campaign_traits
from ..evaluation.self_report import entry_subscale, entry_total
from ..record.schema import SessionRecord
from ..seeding import derive_rng, derive_seed

# The questionnaire scales compared: (instrument, subscale or None for the total).
SCALES = (("phq9", None), ("gad7", None), ("wai_sr", None), ("wai_sr", "goal"), ("wai_sr", "task"),
          ("wai_sr", "bond"), ("panas", "positive"), ("panas", "negative"))


def scale_name(key: str, subscale: str | None) -> str:
    return key if subscale is None else f"{key}.{subscale}"


# The moments measured after the session's counselor turns: they rest on the state the appraisals moved.
AFTER_THE_TURNS = ("after", "exit")


def scale_value(result: QuestionnaireResult | None, key: str, subscale: str | None) -> float | None:
    """A questionnaire result's total or subscale, None where it is missing, incomplete or has a filled-in answer."""
    return entry_total(result) if subscale is None else entry_subscale(result, key, subscale)


def _given(result: QuestionnaireResult | None, subscale: str | None) -> bool:
    """Whether the result holds a value for the total or subscale at all (filled-in answers or not)."""
    if result is None:
        return False
    return (result.total if subscale is None else result.subscales.get(subscale)) is not None


@dataclass(frozen=True)
class RatedTurn:
    """One counselor turn the person rated, and how the simulated client took the same turn."""

    turn: int  # its index in the session's turns
    person: dict[str, int | None]  # the person's rating per appraisal item (None: left unrated)
    simulated: dict[str, float | None]  # the simulated client's appraisal on the same 1..5 scale (1 + 4 x cue)
    worth: float  # the turn's trust change for the simulated client (``trust_change``)
    source: str | None  # the simulated appraiser: rules or model
    filled_in: list[str] = field(default_factory=list)  # items the client's model did not rate (simulated: None)


@dataclass(frozen=True)
class AnsweredBoth:
    """One questionnaire at one moment: the simulated client's answers and the person's (None: not asked)."""

    simulated: QuestionnaireResult
    person: QuestionnaireResult | None

    def to_dict(self) -> dict:
        return {"simulated": self.simulated.to_dict(), "person": None if self.person is None else self.person.to_dict()}


@dataclass
class ReplayedSession:
    """One person's session, and what the simulated client made of the same counselor turns."""

    run: str
    client_id: str
    session_index: int
    rater: str
    turns: list[RatedTurn] = field(default_factory=list)  # per counselor turn the person rated
    # Per moment ("before", "after", "exit") and instrument.
    questionnaires: dict[str, dict[str, AnsweredBoth]] = field(default_factory=dict)
    appraisal_methods: dict[str, int] = field(default_factory=dict)
    self_report_methods: dict[str, int] = field(default_factory=dict)
    usage: RoleUsage = field(default_factory=RoleUsage)
    # The client's state moved on filled-in appraisal items: its answers after the turns are left out.
    moved_on_filled_in: bool = False

    @property
    def key(self) -> str:
        return f"{self.run}/{self.client_id}/{self.session_index}"

    def _scale_pairs(self) -> tuple[dict[str, list[tuple[float, float]]], dict[str, int]]:
        pairs: dict[str, list[tuple[float, float]]] = {}
        dropped: dict[str, int] = {}
        for moment, answered in self.questionnaires.items():
            stale = self.moved_on_filled_in and moment in AFTER_THE_TURNS
            for key, subscale in SCALES:
                both = answered.get(key)
                if both is None:
                    continue
                name = scale_name(key, subscale)
                person = scale_value(both.person, key, subscale)
                simulated = None if stale else scale_value(both.simulated, key, subscale)
                if simulated is not None and person is not None:
                    pairs.setdefault(name, []).append((simulated, person))
                elif person is not None and _given(both.simulated, subscale):  # given, but not the model's own
                    dropped[name] = dropped.get(name, 0) + 1
        return pairs, dropped

    def scale_pairs(self) -> dict[str, list[tuple[float, float]]]:
        """(simulated, person) per scale, over the moments where both have a complete value of their own."""
        return self._scale_pairs()[0]

    def left_out(self) -> dict[str, int]:
        """Per figure (appraisal item or scale): the pairs left out because the simulated side was filled in
        (or measured on a state that moved on filled-in appraisal items)."""
        dropped = dict(self._scale_pairs()[1])
        for turn in self.turns:
            for item in turn.filled_in:
                if turn.person.get(item) is not None:
                    dropped[item] = dropped.get(item, 0) + 1
        return dropped

    def to_dict(self) -> dict:
        """Its line of replays.jsonl."""
        return {"run": self.run, "client_id": self.client_id, "session_index": self.session_index,
                "rater": self.rater, "turns": [asdict(turn) for turn in self.turns],
                "questionnaires": {moment: {key: both.to_dict() for key, both in answered.items()}
                                   for moment, answered in self.questionnaires.items()}}


def _filled_in(appraisal) -> set[str]:
    """The appraisal items the client's model did not rate; an older record that only counted them makes all
    of its items suspect."""
    filled = appraisal.filled_in_items()
    return set(type(appraisal).model_fields) if "unknown" in filled else set(filled)


def _count(into: dict[str, int], methods: dict[str, int]) -> None:
    for method, count in methods.items():
        into[method] = into.get(method, 0) + count


def replay_course(run: str, profile: CaseProfile, records: list[SessionRecord], client: SimulatedClient,
                  seed: int, campaign_seed: int | None = None) -> list[ReplayedSession]:
    """Replay one person's course (their sessions of one profile in one run, by session) through ``client``.

    The client has the traits a campaign of ``campaign_seed`` (the run's) would draw for this profile, its pinned
    traits kept (none under the legacy dynamics; ``campaign_seed`` None: ``seed``)."""
    traits = campaign_traits(client.params, seed if campaign_seed is None else campaign_seed, profile)
    state = ClientState.initial(profile).model_copy(update={"traits": traits})
    earlier: list[list[Turn]] = []
    previous: SessionRecord | None = None
    replayed = []
    for record in sorted(records, key=lambda r: r.session_index):
        index = record.session_index
        completions: list[Completion] = []
        done = ReplayedSession(run, profile.id, index, record.rater or "")
        week = record.week_before
        if previous is not None:
            # Homework the person heard (the closing turn's assignment), as the course they played decided it.
            had_assignment = heard_assignment(previous.turns) is not None
            state, _ = between_sessions(state, list(profile.plan_for(index).life_events), had_assignment, client.params,
                                        derive_rng(seed, profile.id, index, "week"),
                                        happened=week if week is not None else Week())

        def ask(keys: tuple[str, ...], moment: str, turns: list[Turn]) -> None:
            answers, used = client.answer_questionnaires(profile, index, state, keys,
                                                         derive_seed(seed, profile.id, index, f"questionnaires-{moment}"),
                                                         turns=turns, week=week)
            completions.extend(used)
            person = (record.questionnaires.exit if moment == "exit" else record.questionnaires) \
                if record.questionnaires is not None else None
            for key in keys:
                _count(done.self_report_methods, answers[key].methods)
                mine = getattr(person, key, None) if person is not None else None
                done.questionnaires.setdefault(moment, {})[key] = AnsweredBoth(answers[key], mine)

        ask(AT_START, "before", [])
        heard: list[Turn] = []
        rated = {rating.turn for rating in record.turn_ratings}
        for position, turn in enumerate(record.turns):
            heard.append(turn)
            if not isinstance(turn, CounselorTurn):
                continue
            # The dialogue up to and including this counselor turn: nothing the person said after it.
            context = AppraisalContext(profile, index, state, list(heard), earlier,
                                       derive_seed(seed, profile.id, index, position, "appraisal"))
            appraisal, used = client.appraiser.appraise(context)
            completions.extend(used)
            _count(done.appraisal_methods, appraisal.methods)
            filled = _filled_in(appraisal)
            done.moved_on_filled_in = done.moved_on_filled_in or bool(filled)
            if position in rated:
                ratings = {r.item: r.rating for r in record.turn_ratings if r.turn == position}
                simulated = {item: None if getattr(appraisal, item, None) is None or item in filled
                             else round(1 + 4 * float(getattr(appraisal, item)), 4) for item in ratings}
                done.turns.append(RatedTurn(position, ratings, simulated,
                                            round(trust_change(appraisal, state.resistance, client.params), 4),
                                            appraisal.source, sorted(item for item in filled if item in ratings)))
            state = after_counselor_turn(state, appraisal, client.params,
                                         derive_rng(seed, profile.id, index, position, "dynamics"))
        seen = heard[: last_counselor_index(heard) + 1]  # the end-of-session answers see nothing after it
        ask(AT_END, "after", seen)
        if record.questionnaires is not None and record.questionnaires.exit is not None:
            ask(AT_START, "exit", seen)
        done.usage = usage_of(completions)
        replayed.append(done)
        earlier.append(heard)
        previous = record
    return replayed
