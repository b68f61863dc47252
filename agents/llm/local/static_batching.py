"""Static batching for local models that are not Llama-family (``continuous_batching`` serves those).

``StaticBatcher`` takes up to ``max_batch`` requests, waiting at most ``wait_seconds`` after the
first, and serves them together: generation prefills each prompt alone, left-pads the KV caches
into one batch and decodes it batched; scoring runs one padded forward (prompts sharing a long
prefix prefill it once). Every row keeps its own max_tokens, stop strings, repetition penalty,
temperature/top_p and seeded generator, and leaves the batch when it is done, so a row's result
does not depend on which requests share its batch. ``max_batch`` 1 serves one request at a time.
"""

from __future__ import annotations

from .decoding import DecodingRow, choose_tokens, eos_ids
from .prefix_cache import SHARED_PREFIX_MIN
from .requests import (
    Generated,
    GenerationRequest,
    QueueWorker,
    ScoringRequest,
    collect_batch,
    split_by_kind,
)
from .settings import BatchSettings


class StaticBatcher(QueueWorker):
    """Static batches: requests that arrive together are served together, each batch to its end."""

    def __init__(self, model, tokenizer, settings: BatchSettings):
        super().__init__(settings)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_sizes: list[int] = []  # generation batch sizes served, for benchmarks

    def _serve(self) -> None:
        import torch  # lazy: torch takes seconds to import

        while True:
            batch = collect_batch(self._requests, self.settings.max_batch, self.settings.wait_seconds)
            threads = self.settings.worker_threads()
            if torch.get_num_threads() != threads:
                torch.set_num_threads(threads)
            scoring, generation = split_by_kind(batch)
            # Scoring first: one short forward, and those courses get on with their next call sooner.
            for group, serve in ((scoring, self._score_group), (generation, self._generate_group)):
                if not group:
                    continue
                try:
                    results = serve(group)
                except BaseException as error:  # the callers, not this thread, must see the failure
                    for request in group:
                        request.result.set_exception(error)
                    continue
                for request, result in zip(group, results):
                    request.result.set_result(result)

    def _generate_group(self, group: list[GenerationRequest]) -> list[Generated]:
        self.batch_sizes.append(len(group))
        return generate_batch(self.model, self.tokenizer, group)

    def _score_group(self, group: list[ScoringRequest]):
        return score_batch(self.model, self.tokenizer.pad_token_id, group)


def generate_batch(model, tokenizer, requests: list[GenerationRequest]) -> list[Generated]:
    import torch  # lazy: torch takes seconds to import

    with torch.inference_mode():
        rows = [DecodingRow(request, tokenizer) for request in requests]
        cache, first_logits = _prefill_each(model, [r.request.input_ids for r in rows])
        device = first_logits.device
        lengths = torch.tensor([len(r.request.input_ids) for r in rows], device=device)
        longest = int(lengths.max())
        positions = torch.arange(longest, device=device)
        attention_mask = (positions[None, :] >= (longest - lengths)[:, None]).long()
        seen = torch.zeros(len(rows), first_logits.shape[-1], dtype=torch.bool, device=device)
        for index, row in enumerate(rows):
            seen[index, torch.tensor(row.request.input_ids, device=device)] = True
        penalty = torch.tensor([[r.request.repetition_penalty] for r in rows], device=device)
        end_ids = eos_ids(model, tokenizer)

        active = list(range(len(rows)))
        logits = first_logits
        while True:
            tokens = choose_tokens(logits, seen[active], penalty[active], [rows[i] for i in active])
            still = []
            for position, index in enumerate(active):
                token = int(tokens[position])
                seen[index, token] = True
                if not rows[index].add(token, end_ids):
                    still.append(position)
            if not still:
                break
            if len(still) < len(active):
                keep = torch.tensor(still, device=device)
                cache.batch_select_indices(keep)
                attention_mask = attention_mask[keep]
                tokens = tokens[keep]
                active = [active[p] for p in still]
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones(len(active), 1)], dim=1)
            position_ids = torch.tensor([[len(rows[i].request.input_ids) + len(rows[i].tokens) - 1] for i in active],
                                        device=device)
            output = model(input_ids=tokens[:, None], attention_mask=attention_mask, position_ids=position_ids,
                           cache=cache, use_cache=True)
            cache = output.cache
            logits = output.logits[:, -1].float()
    return [row.result() for row in rows]


def score_batch(model, pad_token_id: int, requests: list[ScoringRequest]):
    """Log-softmax of the next token after each prompt.

    Prompts sharing a long prefix (a questionnaire's items for one client share all but the item
    and the level) are scored together: the prefix is prefilled once, then only the differing
    ends, right-padded (causal attention never looks at padding after a token, so each row is
    exact). The rest go through one left-padded forward pass.
    """
    import torch  # lazy: torch takes seconds to import

    results: list = [None] * len(requests)
    with torch.inference_mode():
        alone = []
        for group, shared in shared_prefix_groups([r.input_ids for r in requests]):
            if len(group) < 2 or shared < SHARED_PREFIX_MIN:
                alone += group
                continue
            for index, row in zip(group, _score_with_prefix(model, pad_token_id, [requests[i].input_ids for i in group], shared)):
                results[index] = row
        if alone:
            for index, row in zip(alone, _score_left_padded(model, pad_token_id, [requests[i].input_ids for i in alone])):
                results[index] = row
    return results


def shared_prefix_groups(prompts: list[list[int]]) -> list[tuple[list[int], int]]:
    """Indices grouped by a common prefix (sorted, then greedily), with its usable length."""
    order = sorted(range(len(prompts)), key=lambda i: prompts[i])
    groups: list[tuple[list[int], int]] = []
    for index in order:
        if groups:
            members, shared = groups[-1]
            first = prompts[members[0]]
            common = 0
            limit = min(shared, len(prompts[index]) - 1)
            while common < limit and first[common] == prompts[index][common]:
                common += 1
            if common >= SHARED_PREFIX_MIN:
                groups[-1] = (members + [index], common)
                continue
        groups.append(([index], len(prompts[index]) - 1))
    return groups


def _score_with_prefix(model, pad_token_id: int, prompts: list[list[int]], shared: int):
    import torch  # lazy: torch takes seconds to import

    prefix = model(input_ids=torch.tensor([prompts[0][:shared]]), use_cache=True)
    cache = prefix.cache
    cache.batch_repeat_interleave(len(prompts))
    tails = [p[shared:] for p in prompts]
    longest = max(len(t) for t in tails)
    input_ids = torch.full((len(tails), longest), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(tails), shared + longest), dtype=torch.long)
    attention_mask[:, :shared] = 1
    for row, tail in enumerate(tails):
        input_ids[row, :len(tail)] = torch.tensor(tail)
        attention_mask[row, shared:shared + len(tail)] = 1
    position_ids = torch.arange(shared, shared + longest)[None].expand(len(tails), -1)
    last = torch.tensor([len(t) - 1 for t in tails])
    # Project only the rows' last real positions through the vocabulary head.
    keep = torch.unique(last)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   cache=cache, use_cache=True, logits_to_keep=keep).logits
    column = {int(position): column for column, position in enumerate(keep)}
    rows = torch.stack([logits[row, column[int(last[row])]] for row in range(len(tails))]).float()
    return list(torch.log_softmax(rows, dim=-1))


def _score_left_padded(model, pad_token_id: int, prompts: list[list[int]]):
    import torch  # lazy: torch takes seconds to import

    longest = max(len(p) for p in prompts)
    input_ids = torch.full((len(prompts), longest), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(prompts), longest), dtype=torch.long)
    for index, prompt in enumerate(prompts):
        input_ids[index, longest - len(prompt):] = torch.tensor(prompt)
        attention_mask[index, longest - len(prompt):] = 1
    # Padding must not shift the rotary positions of the real tokens.
    position_ids = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                   use_cache=False, logits_to_keep=1).logits[:, -1].float()
    return list(torch.log_softmax(logits, dim=-1))


def _prefill_each(model, prompts: list[list[int]]):
    """Prefill every prompt alone, then left-pad the KV caches into one batch cache."""
    # lazy: torch and transformers take seconds to import
    import torch
    from torch.nn.functional import pad
    from transformers import DynamicCache

    caches, last_logits = [], []
    for prompt in prompts:
        output = model(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)
        caches.append(output.cache)
        last_logits.append(output.logits[0, -1].float())
    longest = max(len(p) for p in prompts)
    layers = []
    for layer in range(len(caches[0].layers)):
        keys = [pad(c.layers[layer].keys, (0, 0, longest - len(p), 0)) for c, p in zip(caches, prompts)]
        values = [pad(c.layers[layer].values, (0, 0, longest - len(p), 0)) for c, p in zip(caches, prompts)]
        layers.append((torch.cat(keys), torch.cat(values)))
    return DynamicCache(layers), torch.stack(last_logits)
