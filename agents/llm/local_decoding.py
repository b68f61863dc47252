"""The batched decode loop and batched scoring behind ``local_batching`` (torch is imported lazily).

Per row this follows what ``model.generate`` did for one request: repetition penalty over the
prompt and the tokens so far, then (when sampling) temperature and top-p, then a draw from the
row's own generator; it stops at an end-of-turn token, at ``max_tokens`` or when a stop string
appears in the text.
"""

from __future__ import annotations

from muspsy_sim.agents.llm.local_batching import Generated, GenerationRequest, ScoringRequest
from muspsy_sim.agents.llm.prefix_cache import SHARED_PREFIX_MIN


def generate_batch(model, tokenizer, requests: list[GenerationRequest]) -> list[Generated]:
    import torch

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
    import torch

    results: list = [None] * len(requests)
    with torch.inference_mode():
        alone = []
        for group, shared in _shared_prefix_groups([r.input_ids for r in requests]):
            if len(group) < 2 or shared < SHARED_PREFIX_MIN:
                alone += group
                continue
            for index, row in zip(group, _score_with_prefix(model, pad_token_id, [requests[i].input_ids for i in group], shared)):
                results[index] = row
        if alone:
            for index, row in zip(alone, _score_left_padded(model, pad_token_id, [requests[i].input_ids for i in alone])):
                results[index] = row
    return results


def _shared_prefix_groups(prompts: list[list[int]]) -> list[tuple[list[int], int]]:
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
    import torch

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
    import torch

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


class DecodingRow:
    def __init__(self, request: GenerationRequest, tokenizer):
        import torch

        self.request = request
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.generator = None
        if request.temperature > 0:
            self.generator = torch.Generator()
            if request.seed is None:
                self.generator.seed()
            else:
                self.generator.manual_seed(int(request.seed))

    def add(self, token: int, eos_ids: frozenset[int]) -> bool:
        """Append ``token``; True when this row is finished."""
        self.tokens.append(token)
        if token in eos_ids or len(self.tokens) >= self.request.max_tokens:
            return True
        return bool(self.request.stop) and any(marker in self._text() for marker in self.request.stop)

    def _text(self) -> str:
        return self.tokenizer.decode(self.tokens, skip_special_tokens=True)

    def result(self) -> Generated:
        text = self._text()
        for marker in self.request.stop:
            text = text.split(marker, 1)[0]
        return Generated(text.strip(), tuple(self.tokens))


def _prefill_each(model, prompts: list[list[int]]):
    """Prefill every prompt alone, then left-pad the KV caches into one batch cache."""
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


def choose_tokens(logits, seen, penalty, rows: list[DecodingRow]):
    """The next token of every row: greedy, or sampled with the row's own temperature, top-p and generator."""
    import torch

    # Repetition penalty as in transformers: shrink the scores of tokens already in the sequence.
    penalized = torch.where(logits < 0, logits * penalty, logits / penalty)
    scores = torch.where(seen, penalized, logits)
    chosen = scores.argmax(dim=-1)
    sampling = [i for i, row in enumerate(rows) if row.generator is not None]
    if sampling:
        index = torch.tensor(sampling)
        temperature = torch.tensor([[rows[i].request.temperature] for i in sampling])
        top_p = torch.tensor([rows[i].request.top_p for i in sampling])
        ids, probabilities = nucleus(scores[index] / temperature, top_p)
        # Inverse CDF of one uniform draw from each row's own generator.
        draws = torch.cat([torch.rand(1, generator=rows[i].generator) for i in sampling])
        cumulative = probabilities.cumsum(dim=-1)
        position = torch.searchsorted(cumulative, (draws * cumulative[:, -1])[:, None]).clamp(max=ids.shape[1] - 1)
        chosen[index] = ids.gather(1, position)[:, 0]
    return chosen


# Candidates searched for the nucleus, in turn, before sorting the whole vocabulary.
NUCLEUS_CANDIDATES = (256, 2048)


def nucleus(scores, top_p):
    """Per row, the smallest set of likeliest tokens whose probability reaches ``top_p`` (as transformers'
    TopPLogitsWarper): their ids, likeliest first, and their probabilities (zero past the set, not renormalized).

    Sorting 49k scores costs ~2 ms a row here (24 ms for 12 rows, a sixth of a decode pass), so the
    top ``NUCLEUS_CANDIDATES`` are tried first (1.2 and 3.5 ms for 12 rows), then the whole vocabulary.
    """
    import torch

    probabilities = scores.softmax(dim=-1)
    for candidates in (*NUCLEUS_CANDIDATES, None):
        if candidates is None or candidates >= probabilities.shape[-1]:
            top, ids = probabilities.sort(dim=-1, descending=True)
            break
        top, ids = probabilities.topk(candidates, dim=-1)
        if not bool((top.sum(dim=-1) < top_p).any()):
            break
    before = top.cumsum(dim=-1) - top
    kept = torch.where(before < top_p[:, None], top, torch.zeros_like(top))
    kept[:, 0] = top[:, 0]  # always the likeliest token
    return ids, kept


def eos_ids(model, tokenizer) -> frozenset[int]:
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = set(configured if isinstance(configured, list) else [configured])
    ids.add(tokenizer.eos_token_id)
    return frozenset(i for i in ids if i is not None)
