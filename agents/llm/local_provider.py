"""LiteLLM provider serving ``local/...`` model strings in-process with transformers."""

from __future__ import annotations

import time

from agents.llm.local_models import LoadedModel, load_local_model, resolve_local_model

LOCAL_PROVIDER = "local"


def generate(loaded: LoadedModel, messages: list[dict], *, max_tokens: int, temperature: float,
             seed: int | None, stop: list[str]) -> tuple[str, int, int]:
    """One chat completion: returns (text, prompt_tokens, completion_tokens)."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    # A trailing assistant message is a prefix to continue (prefill), not a finished turn.
    prefill = bool(messages) and messages[-1]["role"] == "assistant"
    inputs = tokenizer.apply_chat_template(
        messages,
        add_generation_prompt=not prefill,
        continue_final_message=prefill,
        return_tensors="pt",
        return_dict=True,
    )
    sampling = {"do_sample": False}
    if temperature > 0:
        sampling = {"do_sample": True, "temperature": temperature, "top_p": 0.9}
    with loaded.lock, torch.inference_mode():
        if seed is not None:
            torch.manual_seed(seed)
        output = model.generate(
            **inputs,
            max_new_tokens=max_tokens,
            repetition_penalty=1.15,
            pad_token_id=tokenizer.pad_token_id,
            stop_strings=stop or None,
            tokenizer=tokenizer if stop else None,
            **sampling,
        )
    prompt_tokens = inputs["input_ids"].shape[1]
    new_tokens = output[0, prompt_tokens:]
    text = tokenizer.decode(new_tokens, skip_special_tokens=True)
    for marker in stop:
        text = text.split(marker, 1)[0]
    return text.strip(), prompt_tokens, int(new_tokens.shape[0])


def next_token_logprobs(loaded: LoadedModel, messages: list[dict], top: int,
                        options: list[str] | None = None) -> tuple[list[tuple[str, float]], int]:
    """Log-probabilities of the next token after the prompt.

    With ``options``, exactly those (scored by their first token), best first; otherwise the ``top`` likeliest.
    """
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with loaded.lock, torch.inference_mode():
        logits = model(**inputs, logits_to_keep=1).logits[0, -1].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    if options:
        scored = [(option, float(logprobs[tokenizer.encode(option, add_special_tokens=False)[0]]))
                  for option in options]
        tokens = sorted(scored, key=lambda t: -t[1])
    else:
        values, indices = torch.topk(logprobs, top)
        tokens = [(tokenizer.decode([int(i)]), float(v)) for v, i in zip(values, indices)]
    return tokens, int(inputs["input_ids"].shape[1])


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
