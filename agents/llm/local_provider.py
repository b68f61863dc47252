"""LiteLLM provider serving ``local/...`` model strings in-process with transformers."""

from __future__ import annotations

import time

from muspsy_sim.agents.llm.local_models import LoadedModel, load_local_model, resolve_local_model

LOCAL_PROVIDER = "local"
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
    from muspsy_sim.agents.llm.local_batching import GenerationRequest

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
    import torch

    from muspsy_sim.agents.llm.local_batching import ScoringRequest

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


def logprobs_response(model_response, tokens: list[tuple[str, float]]):
    """Put next-token log-probabilities into a LiteLLM response, OpenAI style."""
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


def _make_provider_class():
    from litellm import CustomLLM
    from litellm.types.utils import Usage

    class LocalTransformersLLM(CustomLLM):
        """Serves ``local/<alias-or-path>`` from transformers, one shared model per process."""

        def completion(self, model, messages, model_response, optional_params, *args, **kwargs):
            started = time.perf_counter()
            loaded = load_local_model(resolve_local_model(model.removeprefix(f"{LOCAL_PROVIDER}/")))
            if optional_params.get("logprobs"):
                # Scoring options: one forward pass, no sampling.
                tokens, prompt_tokens = next_token_logprobs(
                    loaded, messages, int(optional_params.get("top_logprobs") or 20), optional_params.get("score_options"))
                logprobs_response(model_response, tokens)
                model_response.usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=1,
                                             total_tokens=prompt_tokens + 1)
                model_response.model = f"{LOCAL_PROVIDER}/{model}"
                return model_response
            stop = optional_params.get("stop") or []
            text, prompt_tokens, completion_tokens = generate(
                loaded,
                messages,
                max_tokens=int(optional_params.get("max_tokens") or 128),
                temperature=float(optional_params.get("temperature", 0.7)),
                seed=optional_params.get("seed"),
                stop=[stop] if isinstance(stop, str) else list(stop),
            )
            model_response.choices[0].message.content = text
            model_response.choices[0].finish_reason = "stop"
            model_response.model = f"{LOCAL_PROVIDER}/{model}"
            model_response.usage = Usage(
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            )
            model_response._hidden_params["generation_seconds"] = time.perf_counter() - started
            return model_response

        async def acompletion(self, *args, **kwargs):
            import asyncio

            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return LocalTransformersLLM
