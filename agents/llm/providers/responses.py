"""Filling LiteLLM responses the way OpenAI's API fills them."""

from __future__ import annotations


def logprobs_response(model_response, tokens: list[tuple[str, float]]):
    """Put next-token log-probabilities into a LiteLLM response, OpenAI style."""
    # lazy: litellm takes seconds to import; only its handlers, already running inside it, call this
    from litellm.types.utils import (
        ChatCompletionTokenLogprob,
        ChoiceLogprobs,
        TopLogprob,
    )

    best_token, best = tokens[0]
    model_response.choices[0].logprobs = ChoiceLogprobs(
        content=[
            ChatCompletionTokenLogprob(
                token=best_token, logprob=best,
                top_logprobs=[TopLogprob(token=t, logprob=v) for t, v in tokens],
            )
        ]
    )
    model_response.choices[0].message.content = best_token
    return model_response
