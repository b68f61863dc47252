"""Model layer: every LLM call goes through LiteLLM with a model string per role."""

from agents.llm.base import Completion, LanguageModel, Message, Sampling
from agents.llm.litellm_model import LiteLLMModel
from agents.llm.providers import UnknownModel, check_model_string
from agents.llm.usage import MeteredModel, UsageMeter, add_usage, sum_usage

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
