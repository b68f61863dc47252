"""Per-session metrics from the client's own questionnaires and state.

Answers the model did not give (filled in with the scale's middle: ``filled_in``) are left out:
a total or subscale that would count one is None, and the row's ``answers`` say how many items
were asked and answered (coverage). When the client's model left appraisal items of a counselor
turn unanswered (``Appraisal.filled_in``), its state moved on the scale's middle instead: every
outcome measured after those turns (``AFTER_THE_TURNS``) is left out of that session's row, and the
row's ``left_out`` says why (``appraisal_left_out``). A person's answers (``practice --as client``) are their own;
an item they left unanswered (None) is neither filled in nor a fallback: it leaves its total and
subscale None in the same way and counts as asked, not answered. A person has no simulated state:
the state metrics of their sessions are None (not applicable), and their ratings of the counselor's
turns give ``rated_<item>`` (``person_metrics``).
"""

from __future__ import annotations

from muspsy_sim.agents.client.questionnaires import instruments

from ..core.metrics import AnswerCount, InstrumentAgreement
from ..core.questionnaires import QuestionnaireResult
from ..core.turns import client_turn_count
from ..record.schema import SessionRecord
from ..record.tallies import appraisal_filled_in, session_answers, session_unanswered

# Outcomes measured after the session's turns: they rest on the state the turns' appraisals moved.
AFTER_THE_TURNS = ("wai_total", "wai_goal", "wai_task", "wai_bond", "panas_positive", "panas_negative",
                   "panas_positive_change", "panas_negative_change", "phq9_change", "gad7_change",
                   "distress_end", "distress_change", "trust_end")
# Read off the simulated client's state: nothing of a person's.
STATE_METRICS = ("distress_start", "distress_end", "trust_end", "distress_change")


def _answers(record: SessionRecord | None, instrument: str) -> QuestionnaireResult | None:
    if record is None or record.questionnaires is None:
        return None
    return getattr(record.questionnaires, instrument)


def _total(record: SessionRecord | None, instrument: str) -> float | None:
    return entry_total(_answers(record, instrument))


def entry_total(answers: QuestionnaireResult | None) -> float | None:
    """The total, unless an answer in it was filled in (or left unanswered: then there is none).

    The one rule for what counts as a measured total: eval's rows and the validity harnesses use it."""
    return float(answers.total) if answers and answers.total is not None and not answers.filled_in_items() else None


def entry_subscale(answers: QuestionnaireResult | None, instrument: str, name: str) -> float | None:
    """The subscale ``name`` of ``instrument``, unless one of its items was filled in (or left unanswered)."""
    if answers is None or set(instruments()[instrument].subscales[name]) & answers.filled_in_items():
        return None
    value = answers.subscales.get(name)
    return None if value is None else float(value)


def _subscale(record: SessionRecord | None, instrument: str, name: str) -> float | None:
    return entry_subscale(_answers(record, instrument), instrument, name)


def answer_coverage(record: SessionRecord) -> dict[str, AnswerCount]:
    """Per instrument (the exit assessment's included): items asked, and answered by the model (or the person:
    items they left unanswered are not answered; nothing was filled in for them)."""
    unanswered = session_unanswered(record)
    return {key: AnswerCount(asked=asked, answered=asked - filled - unanswered.get(key, 0))
            for key, (asked, filled) in session_answers(record).items()}


def person_metrics(record: SessionRecord) -> tuple[dict[str, float | None], AnswerCount]:
    """A person's session: the mean of their ratings per appraisal item (``rated_<item>``), and how many
    ratings were asked and given."""
    by_item: dict[str, list[int]] = {}
    for rating in record.turn_ratings:
        given = by_item.setdefault(rating.item, [])
        if rating.rating is not None:
            given.append(rating.rating)
    means = {f"rated_{item}": round(sum(v) / len(v), 4) if v else None for item, v in by_item.items()}
    return means, AnswerCount(asked=len(record.turn_ratings), answered=sum(len(v) for v in by_item.values()))


def _change(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else round(after - before, 4)


def self_report_metrics(record: SessionRecord, previous: SessionRecord | None,
                        following: SessionRecord | None) -> dict[str, float | None]:
    """WAI-SR and PANAS of this session, and PHQ-9/GAD-7 change to the next measurement.

    PHQ-9 and GAD-7 are taken at the start of each session, so a session's change runs from
    its own start to the next session's start (or to the exit assessment after the last one).
    """
    exit_answers = record.questionnaires.exit if record.questionnaires else None
    metrics: dict[str, float | None] = {
        "wai_total": _total(record, "wai_sr"),
        "wai_goal": _subscale(record, "wai_sr", "goal"),
        "wai_task": _subscale(record, "wai_sr", "task"),
        "wai_bond": _subscale(record, "wai_sr", "bond"),
        "panas_positive": _subscale(record, "panas", "positive"),
        "panas_negative": _subscale(record, "panas", "negative"),
        "phq9": _total(record, "phq9"),
        "gad7": _total(record, "gad7"),
        "distress_start": record.client_state_start.distress,
        "distress_end": record.client_state_end.distress,
        "trust_end": record.client_state_end.trust,
    }
    if record.played_by_person:  # the state is the weeks' bookkeeping, not the person's
        metrics.update(dict.fromkeys(("distress_start", "distress_end", "trust_end")))
    metrics["distress_change"] = _change(metrics["distress_end"], metrics["distress_start"])
    metrics["panas_positive_change"] = _change(metrics["panas_positive"], _subscale(previous, "panas", "positive"))
    metrics["panas_negative_change"] = _change(metrics["panas_negative"], _subscale(previous, "panas", "negative"))
    for instrument in ("phq9", "gad7"):
        exit_entry = getattr(exit_answers, instrument) if exit_answers else None
        later = _total(following, instrument) if following else entry_total(exit_entry)
        metrics[f"{instrument}_change"] = _change(later, metrics[instrument])
    coverage = answer_coverage(record).values()
    asked = sum(c.asked for c in coverage)
    metrics["answer_coverage"] = round(sum(c.answered for c in coverage) / asked, 4) if asked else None
    metrics["client_turns"] = float(client_turn_count(record.turns))
    metrics["ended_by_client"] = 1.0 if record.ended_by == "client" else 0.0
    return metrics


def appraisal_left_out(record: SessionRecord, metrics: dict[str, float | None]) -> dict[str, str]:
    """The outcomes to leave out of a session whose client moved on filled-in appraisal answers, and why
    (nothing when its model answered every item); ``metrics`` is changed in place."""
    filled = appraisal_filled_in(record)
    if not filled:
        return {}
    items = sum(len(names) for names in filled.values())
    reason = (f"{items} appraisal item(s) of {len(filled)} counselor turn(s) (client turns "
              f"{', '.join(str(i) for i in sorted(filled))}) were filled in, not rated by the client's model, "
              "and moved its state")
    left_out = {}
    for name in AFTER_THE_TURNS:
        if name in metrics:
            metrics[name] = None
            left_out[name] = reason
    return left_out


# --- how far the self-reports follow the client's state ----------------------------------------

INSTRUMENT_NAMES = {"phq9": "PHQ-9", "gad7": "GAD-7", "wai_sr": "WAI-SR", "panas": "PANAS"}


def answered_questionnaires(record: SessionRecord):
    """(instrument, questionnaire result) for every instrument the session holds, the exit ones too."""
    if record.questionnaires is None:
        return
    exit_answers = record.questionnaires.exit
    for key in INSTRUMENT_NAMES:
        for part in (record.questionnaires, exit_answers):
            answers = getattr(part, key, None) if part is not None else None
            if answers is not None:
                yield key, answers


def self_report_agreement(sessions: list[SessionRecord]) -> dict[str, InstrumentAgreement]:
    """Per instrument: Spearman's rho of the reported answers with the latent levels, over every item.

    All items of all sessions (and exit assessments) are pooled. ``modes`` says how the answers
    were given: "latent" answers are read off the state, so they agree by construction. Items of
    records written before latent levels were recorded are left out, and so are filled-in answers.
    """
    # lazy: scipy loads only when agreement is computed (not for --help or a campaign's start)
    from scipy.stats import spearmanr

    pooled: dict[str, tuple[list[float], list[float], set[str]]] = {}
    for record in sessions:
        for key, answers in answered_questionnaires(record):
            if len(answers.latent) != len(answers.answers):
                continue
            reported, latent, modes = pooled.setdefault(key, ([], [], set()))
            filled = answers.filled_in_items()  # not the model's answers: left out
            kept = [(a, float(v)) for i, (a, v) in enumerate(zip(answers.answers, answers.latent), 1)
                    if i not in filled and a is not None]
            reported.extend(a for a, _ in kept)
            latent.extend(v for _, v in kept)
            modes.add(answers.mode or "unknown")
    agreement = {}
    for key, (reported, latent, modes) in pooled.items():
        constant = len(set(reported)) < 2
        rho = None if constant or len(set(latent)) < 2 else round(float(spearmanr(reported, latent).statistic), 4)
        agreement[key] = InstrumentAgreement(rho=rho, n=len(reported), modes=sorted(modes), constant_answers=constant)
    return agreement


def agreement_warnings(agreement: dict[str, InstrumentAgreement], threshold: float) -> list[str]:
    """Plain-words warnings for instruments whose model-given answers do not follow the client's state."""
    lines = []
    for key, entry in agreement.items():
        if entry.modes == ["latent"]:
            continue
        name = INSTRUMENT_NAMES.get(key, key)
        if entry.constant_answers:
            why = f"the client gave the same answer to all {entry.n} {name} items"
        elif entry.rho is None or entry.rho < threshold:
            rho = "undefined" if entry.rho is None else f"{entry.rho:.2f}"
            why = f"the client's {name} answers barely follow its state (Spearman {rho} over {entry.n} items, below {threshold:.2f})"
        else:
            continue
        lines.append(f"Self-report warning: {why}, so they say little about the simulated client. With a small client "
                     "model set client.self_report: latent, or use a stronger client model.")
    return lines


def agreement_line(agreement: dict[str, InstrumentAgreement]) -> str:
    """One line: per instrument, rho and n (and how the answers were given)."""
    parts = []
    for key, entry in agreement.items():
        rho = "n/a" if entry.rho is None else f"{entry.rho:.2f}"
        how = " latent readout" if entry.modes == ["latent"] else ""
        parts.append(f"{INSTRUMENT_NAMES.get(key, key)} {rho} (n {entry.n}{how})")
    return "Self-reports vs the client's state (Spearman): " + ("; ".join(parts) if parts else "no latent levels recorded")
