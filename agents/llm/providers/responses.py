"""The answer of an in-process provider, in OpenAI's chat-completion shape, and its LiteLLM form.

This project's own providers (``local``, ``testdouble``) answer with a ``ChatResponse``. Routing reads it
as it reads a LiteLLM response (``choices[0].message.content``, ``finish_reason``, ``logprobs``, ``usage``),
so a model served in this process needs no LiteLLM; registered with LiteLLM, the same answer fills
LiteLLM's own response (``fill_model_response``), so the providers stay ordinary LiteLLM providers.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TopLogprob:
    token: str
    logprob: float


@dataclass
class TokenLogprob:
    token: str
    logprob: float
    top_logprobs: list[TopLogprob] = field(default_factory=list)


@dataclass
class ChoiceLogprobs:
    content: list[TokenLogprob]


@dataclass
class ChatMessage:
    content: str
    role: str = "assistant"


@dataclass
class ChatChoice:
    message: ChatMessage
    finish_reason: str = "stop"
    logprobs: ChoiceLogprobs | None = None


@dataclass
class ChatUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ChatResponse:
    """One answer: its text (or next-token log-probabilities), why it stopped, the tokens it took."""

    choices: list[ChatChoice]
    usage: ChatUsage
    model: str = ""

    @classmethod
    def of_text(cls, text: str, model: str, prompt_tokens: int, completion_tokens: int,
                finish_reason: str = "stop") -> "ChatResponse":
        return cls([ChatChoice(ChatMessage(text), finish_reason)], ChatUsage(prompt_tokens, completion_tokens), model)

    @classmethod
    def of_logprobs(cls, tokens: list[tuple[str, float]], model: str, prompt_tokens: int) -> "ChatResponse":
        """Next-token log-probabilities, OpenAI style: the likeliest token as the text, the rest as its alternatives."""
        best_token, best = tokens[0]
        logprobs = ChoiceLogprobs([TokenLogprob(best_token, best, [TopLogprob(t, v) for t, v in tokens])])
        return cls([ChatChoice(ChatMessage(best_token), "stop", logprobs)], ChatUsage(prompt_tokens, 1), model)

    @property
    def text(self) -> str:
        return self.choices[0].message.content


def fill_model_response(model_response, answer: ChatResponse):
    """Put an in-process answer into LiteLLM's response object (inside a LiteLLM handler)."""
    # lazy: litellm takes seconds to import; only its handlers, already running inside it, call this
    from litellm.types.utils import ChatCompletionTokenLogprob, Usage
    from litellm.types.utils import ChoiceLogprobs as LiteLLMLogprobs
    from litellm.types.utils import TopLogprob as Top

    choice, source = model_response.choices[0], answer.choices[0]
    choice.message.content = source.message.content
    choice.finish_reason = source.finish_reason
    if source.logprobs is not None:
        choice.logprobs = LiteLLMLogprobs(content=[
            ChatCompletionTokenLogprob(token=entry.token, logprob=entry.logprob,
                                       top_logprobs=[Top(token=t.token, logprob=t.logprob) for t in entry.top_logprobs])
            for entry in source.logprobs.content
        ])
    model_response.model = answer.model
    usage = answer.usage
    model_response.usage = Usage(prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
                                 total_tokens=usage.prompt_tokens + usage.completion_tokens)
    return model_response
