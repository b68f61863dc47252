"""In-process fakes for unit tests of single agents (no LiteLLM round trip)."""

from __future__ import annotations

from muspsy_sim.agents.llm import Completion, LanguageModel, Sampling
from muspsy_sim.agents.llm.providers.scripted import scripted_reply


class RecordingModel(LanguageModel):
    """Answers with the scripted test double's logic and keeps every prompt it was sent."""

    model = "fake/recording"

    def __init__(self, reply=None):
        self.reply = reply or scripted_reply
        self.prompts: list[list[dict]] = []

    def complete(self, messages: list[dict], sampling: Sampling) -> Completion:
        self.prompts.append(messages)
        return Completion(text=self.reply(messages), model=self.model, prompt_tokens=1, completion_tokens=1)
