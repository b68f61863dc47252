"""The client's answers to its questionnaires (PHQ-9, GAD-7, WAI-SR, PANAS; ``agents.client.questionnaires``)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ConfigDict, Field

from .values import FullyWritten, Number, Value, not_required

FALLBACK_METHOD = "fallback"  # the method of an answer the model did not give (the scale's middle, filled in)
PARTIAL_METHOD = "likelihood-partial"  # chosen among the options that had a log-probability, some had none
AT_START = ("phq9", "gad7")  # asked before each session (and once more after the last: ``exit``)
AT_END = ("wai_sr", "panas")  # asked after each session


class QuestionnaireResult(FullyWritten):
    """One instrument's answers as the client gave them, with its latent level beside each; or a person's answers."""

    answers: list[int | None] = Field(description="One per item; null only in a person's answers: the item was "
                                                  "left unanswered (never filled in).")
    total: int | None = Field(description="null when an item is unanswered (a person's answers).")
    subscales: dict[str, int | None] = Field(default_factory=dict, description="null when one of its items is unanswered.")
    methods: dict[str, int] = Field(default_factory=dict, description="How many items each scoring method answered "
                                                                      "(human: the person's own answers).")
    latent: list[Number] = Field(default_factory=list, description="The client's latent level per item (its state), "
                                 "beside each answer; empty for a person's answers.")
    mode: str | None = Field(default=None, description="model (the client's model answered), latent (read off the "
                                                       "state) or human (a person answered: practice --as client).")
    filled_in: list[int] = Field(default_factory=list, description="Items (1-based) the model gave no valid answer "
                                 "to: the scale's middle was filled in (method fallback); eval leaves them out.")

    def filled_in_items(self) -> set[int]:
        """Items filled in; a record from before ``filled_in`` that counted fallbacks makes every item suspect."""
        if self.filled_in or not self.methods.get(FALLBACK_METHOD):
            return set(self.filled_in)
        return set(range(1, len(self.answers) + 1))

    def unanswered_items(self) -> set[int]:
        """Items (1-based) left unanswered: only a person leaves one, and nothing stands in its place."""
        return {number for number, answer in enumerate(self.answers, start=1) if answer is None}


class _Instruments(Value):
    """Results by instrument key; instruments beyond the named ones are kept as extra keys.

    Only the instruments answered are written (a session's exit assessment only after the last session).
    """

    __pydantic_extra__: dict[str, QuestionnaireResult]
    model_config = ConfigDict(json_schema_serialization_defaults_required=True)

    phq9: QuestionnaireResult | None = None
    gad7: QuestionnaireResult | None = None

    def results(self) -> list[tuple[str, QuestionnaireResult]]:
        """(instrument, its result) for every instrument answered, named and extra ones."""
        named = [(key, getattr(self, key)) for key in type(self).model_fields if key != "exit"]
        extra = list((self.model_extra or {}).items())
        return [(key, entry) for key, entry in named + extra if isinstance(entry, QuestionnaireResult)]


class ExitQuestionnaires(_Instruments):
    """Symptoms once more after the course's last session."""


class Questionnaires(_Instruments):
    """PHQ-9 and GAD-7 at the start of the session, WAI-SR and PANAS at its end; ``exit`` after the last."""

    model_config = ConfigDict(json_schema_extra=not_required("exit"))

    wai_sr: QuestionnaireResult | None = None
    panas: QuestionnaireResult | None = None
    exit: ExitQuestionnaires | None = None

    def answered(self, results: Mapping[str, QuestionnaireResult], *, exit: bool = False) -> "Questionnaires":
        """These questionnaires with ``results`` added (as the exit assessment's, with ``exit``)."""
        plain = {key: result.to_dict() for key, result in results.items()}
        return Questionnaires.model_validate({**self.to_dict(), **({"exit": plain} if exit else plain)})

    def all_results(self) -> list[tuple[str, QuestionnaireResult]]:
        """Every instrument's result of the session, the exit assessment's included."""
        return [*self.results(), *(self.exit.results() if self.exit is not None else [])]
