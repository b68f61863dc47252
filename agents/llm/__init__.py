"""Model layer: every LLM call goes through LiteLLM with a model string per role."""

from muspsy_sim.agents.llm.base import Completion, LanguageModel, Message, Sampling
from muspsy_sim.agents.llm.litellm_model import LiteLLMModel
from muspsy_sim.agents.llm.providers import UnknownModel, check_model_string
from muspsy_sim.agents.llm.usage import MeteredModel, UsageMeter, add_usage, sum_usage

__all__ = [
    "Completion",
    "LanguageModel",
    "LiteLLMModel",
    "Message",
    "MeteredModel",
    "Sampling",
    "UnknownModel",
    "UsageMeter",
    "add_usage",
    "check_model_string",
    "sum_usage",
]
