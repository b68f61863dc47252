"""The realism table: a campaign's figures beside the published reference ranges, with their sources.

Shared by `eval` (printed), `compare` (one per counselor) and the HTML report. Rows are plain text
(``realism_rows``); ``realism_table`` prints them with rich, the sources as numbered notes.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from ..core.realism import CounselorRealism, DropoutShare, InstrumentRealism, ReferenceRange, TrajectoryRealism
from .realism_references import DETERIORATED, DROPOUT, IMPROVED, SUDDEN_GAIN, SUDDEN_GAIN_AMONG_IMPROVED
from .reliable_change import INSTRUMENTS

OUTSIDE = " *"  # marks a figure outside its reference range


def _percent(value: float | None, reference: ReferenceRange | None = None) -> str:
    if value is None:
        return "-"
    mark = OUTSIDE if reference is not None and not reference.holds(value) else ""
    return f"{100 * value:.0f}%{mark}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _plain(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


# (label, key in the instrument's entry, how to show it, its reference)
_PER_INSTRUMENT = (
    ("courses (intention to treat)", "courses", lambda value: f"{value}", None),
    ("reliably improved", "improving", _percent, IMPROVED),
    ("unchanged", "flat", _percent, None),
    ("reliably deteriorated", "worsening", _percent, DETERIORATED),
    ("with a sudden gain", "with_sudden_gain", _percent, SUDDEN_GAIN),
    ("improvers with a sudden gain", "sudden_gain_among_improving", _percent, SUDDEN_GAIN_AMONG_IMPROVED),
    ("with a setback", "with_setback", _percent, None),
    ("mean change / session", "mean_change_per_session", _signed, None),
    ("SD of change across clients", "sd_change", _plain, None),
    ("SD of session-to-session change", "sd_session_change", _plain, None),
)
NOTES = (IMPROVED, DETERIORATED, DROPOUT, SUDDEN_GAIN, SUDDEN_GAIN_AMONG_IMPROVED)


def _note(reference: ReferenceRange | None) -> str:
    return "" if reference is None else f"{reference.range_text()} [{NOTES.index(reference) + 1}]"


def _cell(entry: InstrumentRealism, key: str, show, reference: ReferenceRange | None) -> str:
    value = getattr(entry, key)
    if show is _percent:
        return _percent(value, reference)
    return "-" if value is None else show(value)


def _dropout_cell(dropout: DropoutShare) -> str:
    return _percent(dropout.share, DROPOUT) if dropout.recorded else "not recorded"


def _range(entry: InstrumentRealism) -> str:
    low, high = entry.min_change, entry.max_change
    return "-" if low is None else f"{low:+.0f} to {high:+.0f}"


def _threshold(entry: InstrumentRealism) -> str:
    return "-" if entry.reliable_change is None else _plain(entry.reliable_change.threshold)


def realism_rows(realism: TrajectoryRealism) -> list[dict[str, str]]:
    """The table's rows as text: measure, one column per instrument, the reference range and its note number."""
    entries = {name: realism.instrument(name) for name in INSTRUMENTS}
    rows = []
    for label, key, show, reference in _PER_INSTRUMENT:
        rows.append({"measure": label, **{name: _cell(entries[name], key, show, reference) for name in INSTRUMENTS},
                     "reference": _note(reference)})
        if key == "worsening":  # dropout belongs to the course, not to an instrument: the same figure in both
            dropout = realism.dropout or DropoutShare()
            rows.append({"measure": "dropped out", **dict.fromkeys(INSTRUMENTS, _dropout_cell(dropout)),
                         "reference": _note(DROPOUT)})
            median = dropout.median_after_session
            rows.append({"measure": "dropout: median last session",
                         **dict.fromkeys(INSTRUMENTS, "-" if median is None else f"{median:g}"), "reference": ""})
    rows.append({"measure": "range of change", **{name: _range(entries[name]) for name in INSTRUMENTS}, "reference": ""})
    rows.append({"measure": "reliable change (points)",
                 **{name: _threshold(entries[name]) for name in INSTRUMENTS}, "reference": "Jacobson & Truax"})
    return rows


def reference_notes() -> list[str]:
    return [f"[{i}] {ref.range_text()} {ref.label}: {ref.published} ({ref.source})" for i, ref in enumerate(NOTES, 1)]


def method_lines(realism: TrajectoryRealism) -> list[str]:
    """How the reliable change was set per instrument, and what was left out."""
    lines = []
    for name in INSTRUMENTS:
        criterion = realism.instrument(name).reliable_change
        if criterion is not None:
            lines.append(f"{INSTRUMENTS[name].label}: {criterion.method}, reliability {criterion.reliability} "
                         f"({criterion.reliability_source})")
        else:  # a summary written before the reliable change was derived: the fixed criteria
            thresholds = realism.thresholds.get(name)
            if thresholds is not None:
                lines.append(f"{INSTRUMENTS[name].label}: fixed reliable change {thresholds.reliable_change}, "
                             f"setback {thresholds.setback}")
    for name in INSTRUMENTS:
        entry = realism.instrument(name)
        if entry.skipped or entry.unmeasured:
            none = f"; courses with none, left out: {', '.join(entry.unmeasured)}" if entry.unmeasured else ""
            lines.append(f"{INSTRUMENTS[name].label}: {entry.skipped or 0} measurement(s) skipped, as eval left them "
                         f"out (filled-in answers, or outcomes after filled-in appraisal items){none}")
    if realism.excluded_failed:
        lines.append("left out (failed for a technical reason, interrupted, or not finished): "
                     f"{', '.join(realism.excluded_failed)}")
    return lines


def realism_table(realism: TrajectoryRealism, title: str | None = None) -> Table:
    """The trajectory realism table `eval` prints."""
    table = Table(title=title or "Trajectory realism: the courses beside published base rates "
                                 "(intention to treat: dropouts keep their last measurement)")
    table.add_column("measure")
    for name in INSTRUMENTS:
        table.add_column(INSTRUMENTS[name].label, justify="right")
    table.add_column("reference")
    for row in realism_rows(realism):
        table.add_row(row["measure"], *(row[name] for name in INSTRUMENTS), row["reference"])
    table.caption = "\n".join([f"{OUTSIDE.strip()} outside the reference range. Improved / deteriorated: a change of "
                               "at least the reliable change; setback: a rise of at least half of it.",
                               *method_lines(realism), *reference_notes()])
    table.caption_justify = "left"
    return table


# --- several counselors (`compare`) ----------------------------------------------------------------

def counselor_rows(by_counselor: CounselorRealism) -> tuple[list[str], list[list[str]]]:
    """Columns and rows of the realism table per counselor: each cell "PHQ-9 / GAD-7"."""
    groups = by_counselor.counselors
    per_group = {counselor: realism_rows(group.realism) for counselor, group in groups.items()}
    first = next(iter(per_group.values()), [])
    rows = []
    for position, row in enumerate(first):
        cells = []
        for counselor_rows_ in per_group.values():
            this = counselor_rows_[position]
            same = all(this[name] == this[next(iter(INSTRUMENTS))] for name in INSTRUMENTS)
            cells.append(this[next(iter(INSTRUMENTS))] if same else " / ".join(this[name] for name in INSTRUMENTS))
        rows.append([row["measure"], *cells, row["reference"]])
    return ["measure", *groups, "reference"], rows


def share_line(by_counselor: CounselorRealism) -> str:
    """The counselor's share of outcome variance, per instrument, beside its reference."""
    parts = []
    for name, share in by_counselor.counselor_share.items():
        if share is not None:
            mark = "" if share.in_range else OUTSIDE
            parts.append(f"{INSTRUMENTS[name].label} {100 * share.icc:.1f}%{mark} "
                         f"(eta squared {100 * share.eta_squared:.1f}%)")
    if not parts:
        return "Counselor share of outcome variance: one counselor only, nothing to compare."
    share = next(s for s in by_counselor.counselor_share.values() if s is not None)
    reference = share.reference
    return (f"Counselor share of outcome variance (ICC(1) of each course's change, one-way random-effects ANOVA, "
            f"{share.courses} courses, {share.counselors} counselors): {'; '.join(parts)}. Reference "
            f"{reference.range_text()}: {reference.published} ({reference.source}).")


def counselor_realism_table(by_counselor: CounselorRealism) -> Table:
    columns, rows = counselor_rows(by_counselor)
    labels = " / ".join(spec.label for spec in INSTRUMENTS.values())
    table = Table(title=f"Trajectory realism by counselor ({labels}; runs of one counselor pooled; intention to treat)")
    # Text, not markup: a counselor's label holds its options in brackets ("muspsy [scaffold=off]").
    for position, column in enumerate(columns):
        table.add_column(Text(column), justify="left" if position in (0, len(columns) - 1) else "right",
                         overflow="fold")
    for row in rows:
        table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    table.caption = "\n".join([share_line(by_counselor), *reference_notes()])
    table.caption_justify = "left"
    return table


def realism_markdown(by_counselor: CounselorRealism) -> list[str]:
    columns, rows = counselor_rows(by_counselor)
    labels = " / ".join(spec.label for spec in INSTRUMENTS.values())
    return ["## Trajectory realism by counselor", "",
            f"Each cell {labels}. Runs of one counselor pooled; intention to treat (dropouts keep their last "
            "measurement); * outside the reference range.", "",
            "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
            *("| " + " | ".join(row) + " |" for row in rows), "", share_line(by_counselor), "",
            *(f"- {note}" for note in reference_notes())]
