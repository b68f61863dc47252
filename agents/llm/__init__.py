"""The model layer: every LLM call goes through LiteLLM, with one model spec per role.

Floors, top to bottom (each imports only those below it):

- ``metering`` (``MeteredModel``: a role's model, counted) and ``output_checks``
  (``complete_checked``: re-ask, then fail the step) wrap any ``LanguageModel``;
- ``routing`` (``LiteLLMModel``: a model spec through ``litellm.completion``, with retries and a
  fallback) and ``choice_scoring`` (how it picks one of fixed options, alone or for a set of items);
- ``providers/`` (this project's LiteLLM providers: ``local``, ``testdouble``, ``faulty``);
- ``local/`` (the in-process inference engine behind ``local/...``);
- ``interface`` (``LanguageModel``, ``Completion``, ``Sampling``, ...), ``spec`` (``ModelSpec``: the model
  string parsed once into a value, its syntax only; whether it can be served is asked in
  ``routing.servable``) and ``environment`` (offline process settings), below everything.

Agents and the simulation import what they use from here.
"""

from .interface import (
    FALLBACK_METHOD,
    PARTIAL_METHOD,
    ChoiceScores,
    Completion,
    FailedStep,
    ItemScores,
    ItemSet,
    LanguageModel,
    Message,
    ModelUnavailable,
    Sampling,
    ScoringOffer,
)
from .metering import MeteredModel, UsageMeter, completion_usage, usage_of
from .output_checks import complete_checked, failure_entry, words_problem
from .spec import ModelSpec, UnknownModel

__all__ = [
    "ChoiceScores",
    "Completion",
    "FALLBACK_METHOD",
    "PARTIAL_METHOD",
    "FailedStep",
    "ItemScores",
    "ItemSet",
    "LanguageModel",
    "Message",
    "MeteredModel",
    "ScoringOffer",
    "ModelSpec",
    "ModelUnavailable",
    "Sampling",
    "UnknownModel",
    "UsageMeter",
    "completion_usage",
    "complete_checked",
    "failure_entry",
    "usage_of",
    "words_problem",
]
