"""Serving chat requests from a loaded local model: prompts to token ids, generation, next-token scoring."""

from __future__ import annotations

from .loading import LoadedModel
from .requests import GenerationRequest, ScoringRequest

REPETITION_PENALTY = 1.15
TOP_P = 0.9


def chat_prompt_ids(loaded: LoadedModel, messages: list[dict], *, allow_prefill: bool = True) -> list[int]:
    """The prompt's token ids; a trailing assistant message is a prefix to continue (prefill), not a finished turn."""
    prefill = allow_prefill and bool(messages) and messages[-1]["role"] == "assistant"
    ids = loaded.tokenizer.apply_chat_template(
        messages, add_generation_prompt=not prefill, continue_final_message=prefill, tokenize=True, return_dict=True,
    )["input_ids"]
    return list(ids)


def generate(loaded: LoadedModel, messages: list[dict], *, max_tokens: int, temperature: float,
             seed: int | None, stop: list[str]) -> tuple[str, int, int]:
    """One chat completion, served in a batch with whatever other requests arrive: (text, prompt_tokens, completion_tokens)."""
    input_ids = chat_prompt_ids(loaded, messages)
    generated = loaded.batcher().generate(GenerationRequest(
        input_ids=input_ids, max_tokens=max_tokens, stop=tuple(stop), temperature=max(temperature, 0.0),
        top_p=TOP_P, repetition_penalty=REPETITION_PENALTY, seed=seed,
    ))
    return generated.text, len(input_ids), len(generated.token_ids)


def next_token_logprobs(loaded: LoadedModel, messages: list[dict], top: int,
                        options: list[str] | None = None) -> tuple[list[tuple[str, float]], int]:
    """Log-probabilities of the next token after the prompt (scored in a batch with other such requests).

    With ``options``, exactly those (scored by their first token), best first; otherwise the ``top`` likeliest.
    """
    import torch  # lazy: torch takes seconds to import

    tokenizer = loaded.tokenizer
    input_ids = chat_prompt_ids(loaded, messages, allow_prefill=False)
    logprobs = loaded.batcher().score(ScoringRequest(input_ids))
    if options:
        scored = [(option, float(logprobs[tokenizer.encode(option, add_special_tokens=False)[0]]))
                  for option in options]
        tokens = sorted(scored, key=lambda t: -t[1])
    else:
        values, indices = torch.topk(logprobs, top)
        tokens = [(tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, indices)]
    return tokens, len(input_ids)
