"""A forward pass over several sequences at once, each at its own length, for Llama-family models.

transformers' forward wants one rectangular batch: a new 300-token prompt and fifteen rows that
each need one more token would be padded to 16 x 300. Here the tokens of all sequences are packed
into one matrix instead, so the linear layers (nearly all of the compute) run once over exactly the
tokens there are. Every sequence owns a slot of one preallocated key/value buffer: the rows that
are decoding attend in one masked call over their slots, a row being prefilled attends on its own.
This is what lets decoding rows ride along with another row's prefill (continuous batching), and
lets a sequence start from a cached prefix.

Uses the Hugging Face module's own weights and sub-modules (norms, projections, rotary embedding,
MLP); ``supports`` says whether a model has that layout.
"""

from __future__ import annotations

from dataclasses import dataclass


def supports(model) -> bool:
    """Llama-style decoder (llama, mistral, qwen2, smollm): the layout ``PackedLlama`` reads."""
    try:
        layer = model.model.layers[0]
        attention = layer.self_attn
        parts = (model.model.embed_tokens, model.model.norm, model.model.rotary_emb, model.lm_head,
                 layer.input_layernorm, layer.post_attention_layernorm, layer.mlp,
                 attention.q_proj, attention.k_proj, attention.v_proj, attention.o_proj)
    except AttributeError:
        return False
    config = model.config
    return all(p is not None for p in parts) and not getattr(config, "sliding_window", None) and \
        getattr(config, "model_type", "") in {"llama", "mistral", "qwen2"}


class KVSlots:
    """Keys and values of the sequences in flight, [layer, slot, kv_head, position, head_dim].

    Grown on demand (doubling) and shrunk when slots are freed, so it holds about the rows in
    flight times the longest of them (46 KB a position for SmolLM2 in fp32).
    """

    def __init__(self, layers: int, kv_heads: int, head_dim: int, dtype):
        import torch  # lazy: torch takes seconds to import

        self.keys = torch.zeros(layers, 0, kv_heads, 0, head_dim, dtype=dtype)
        self.values = torch.zeros_like(self.keys)
        self.lengths: list[int | None] = []  # tokens held per slot; None = free

    def acquire(self) -> int:
        """The lowest free slot (so the occupied ones stay packed at the front), emptied."""
        for slot, length in enumerate(self.lengths):
            if length is None:
                self.lengths[slot] = 0
                return slot
        self.lengths.append(0)
        return len(self.lengths) - 1

    def release(self, slot: int) -> None:
        self.lengths[slot] = None
        while self.lengths and self.lengths[-1] is None:
            self.lengths.pop()
        # One long prompt (a full-history counselor) must not keep every slot that long for good.
        held = max((n for n in self.lengths if n is not None), default=0)
        slots, capacity = self.keys.shape[1], self.keys.shape[3]
        if slots > 2 * max(len(self.lengths), 1) or capacity > 4 * max(held, 256):
            self._resize(max(len(self.lengths), 1), min(capacity, max(2 * held, 256)))

    def _resize(self, slots: int, capacity: int) -> None:
        import torch  # lazy: torch takes seconds to import

        layers, _, kv_heads, _, head_dim = self.keys.shape
        keys = torch.zeros(layers, slots, kv_heads, capacity, head_dim, dtype=self.keys.dtype)
        values = torch.zeros_like(keys)
        kept_slots, kept = min(slots, self.keys.shape[1]), min(capacity, self.keys.shape[3])
        keys[:, :kept_slots, :, :kept] = self.keys[:, :kept_slots, :, :kept]
        values[:, :kept_slots, :, :kept] = self.values[:, :kept_slots, :, :kept]
        self.keys, self.values = keys, values

    def reserve(self, slot: int, length: int) -> None:
        """Room for ``length`` tokens in ``slot``: grows the buffer (doubling) when needed."""
        slots, capacity = self.keys.shape[1], self.keys.shape[3]
        if slot < slots and length <= capacity:
            return
        self._resize(max(slots, slot + 1), capacity if length <= capacity else max(length, 2 * capacity, 256))

    def load(self, slot: int, keys, values) -> None:
        """Start ``slot`` from a cached prefix ([layer, kv_head, position, head_dim] each)."""
        length = keys.shape[2]
        self.reserve(slot, length)
        self.keys[:, slot, :, :length] = keys
        self.values[:, slot, :, :length] = values
        self.lengths[slot] = length

    def snapshot(self, slot: int, length: int):
        """A copy of the first ``length`` positions of ``slot`` (for the prefix cache)."""
        return self.keys[:, slot, :, :length].clone(), self.values[:, slot, :, :length].clone()


@dataclass
class Segment:
    """Tokens to feed for the sequence in ``slot``, after what the slot already holds."""

    slot: int
    tokens: list[int]
    wants_logits: bool = True


class PackedLlama:
    def __init__(self, model):
        self.model = model
        config = model.config
        self.heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or self.heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // self.heads
        self.layers = list(model.model.layers)
        self.slots = KVSlots(len(self.layers), self.kv_heads, self.head_dim, next(model.parameters()).dtype)

    def forward(self, segments: list[Segment]):
        """Feed every segment's tokens; float32 logits after the last token of each segment that wants them,
        in the order of ``segments`` (None when none wants them)."""
        import torch  # lazy: torch takes seconds to import

        with torch.inference_mode():
            return self._forward(segments)

    def _forward(self, segments: list[Segment]):
        import torch  # lazy: torch takes seconds to import

        model, lengths = self.model.model, self.slots.lengths
        # One token onto a non-empty slot attends in the batched call; packed first, so they are one block.
        is_decoding = [len(s.tokens) == 1 and bool(lengths[s.slot]) for s in segments]
        order = sorted(range(len(segments)), key=lambda i: not is_decoding[i])
        caller_order = segments
        segments = [caller_order[i] for i in order]
        decoding = [s for s, d in zip(caller_order, is_decoding) if d]
        prefilling = segments[len(decoding):]
        for segment in segments:
            self.slots.reserve(segment.slot, lengths[segment.slot] + len(segment.tokens))
        ids = torch.tensor([t for s in segments for t in s.tokens])
        positions = torch.cat([torch.arange(lengths[s.slot], lengths[s.slot] + len(s.tokens)) for s in segments])
        hidden = model.embed_tokens(ids)
        cos, sin = model.rotary_emb(hidden[None], positions[None])
        cos, sin = cos[0][:, None, :], sin[0][:, None, :]
        batch = _DecodeBatch(decoding, lengths) if decoding else None
        total = len(ids)
        for index, layer in enumerate(self.layers):
            attention = layer.self_attn
            normed = layer.input_layernorm(hidden)
            queries = _rotate(attention.q_proj(normed).view(total, self.heads, self.head_dim), cos, sin)
            keys = _rotate(attention.k_proj(normed).view(total, self.kv_heads, self.head_dim), cos, sin)
            values = attention.v_proj(normed).view(total, self.kv_heads, self.head_dim)
            outputs = []
            if batch is not None:
                outputs.append(self._attend_decoding(index, batch, queries, keys, values))
            first = len(decoding)
            for segment in prefilling:
                end = first + len(segment.tokens)
                outputs.append(self._attend_prefilling(index, segment, queries[first:end], keys[first:end],
                                                       values[first:end]))
                first = end
            hidden = hidden + attention.o_proj(torch.cat(outputs))
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        last_position, end = {}, 0
        for index, segment in zip(order, segments):
            end += len(segment.tokens)
            lengths[segment.slot] += len(segment.tokens)
            last_position[index] = end - 1
        wanted = [last_position[i] for i, s in enumerate(caller_order) if s.wants_logits]
        if not wanted:
            return None
        # Only the positions whose next token is needed go through the vocabulary head.
        return self.model.lm_head(model.norm(hidden[wanted])).float()

    def _attend_decoding(self, layer: int, batch: _DecodeBatch, queries, keys, values):
        """One new token per slot, written in place; then attention, in one masked call over slots 0..span
        when the slots are dense, else per slot (reading masked keys costs as much as reading real ones)."""
        import torch  # lazy: torch takes seconds to import

        count = len(batch.slots)
        layer_keys, layer_values = self.slots.keys[layer], self.slots.values[layer]
        layer_keys[batch.slot_index, :, batch.position_index] = keys[:count]
        layer_values[batch.slot_index, :, batch.position_index] = values[:count]
        attend = torch.nn.functional.scaled_dot_product_attention
        gqa = self.heads != self.kv_heads
        if batch.mask is None:
            attended = torch.cat([
                attend(queries[row, :, None][None], layer_keys[slot, :, :length + 1][None],
                       layer_values[slot, :, :length + 1][None], enable_gqa=gqa)[0]
                for row, (slot, length) in enumerate(zip(batch.slots, batch.lengths))])
            return attended.reshape(count, self.heads * self.head_dim)
        spread = queries.new_zeros(batch.span, self.heads, 1, self.head_dim)
        spread[batch.slot_index] = queries[:count, :, None]
        attended = attend(spread, layer_keys[:batch.span, :, :batch.longest], layer_values[:batch.span, :, :batch.longest],
                          attn_mask=batch.mask, enable_gqa=gqa)
        return attended[batch.slot_index, :, 0].reshape(count, self.heads * self.head_dim)

    def _attend_prefilling(self, layer: int, segment: Segment, queries, keys, values):
        import torch  # lazy: torch takes seconds to import

        past, new = self.slots.lengths[segment.slot], len(segment.tokens)
        slot_keys = self.slots.keys[layer, segment.slot]
        slot_values = self.slots.values[layer, segment.slot]
        slot_keys[:, past:past + new] = keys.transpose(0, 1)
        slot_values[:, past:past + new] = values.transpose(0, 1)
        attended = torch.nn.functional.scaled_dot_product_attention(
            queries.transpose(0, 1)[None], slot_keys[None, :, :past + new], slot_values[None, :, :past + new],
            attn_mask=_causal_mask(past, new), enable_gqa=self.heads != self.kv_heads)
        return attended[0].transpose(0, 1).reshape(new, self.heads * self.head_dim)


class _DecodeBatch:
    """Where the decoding rows' new tokens go, and which cached positions each may see."""

    # One masked call over the slot range when it reads at most this much more than the rows hold.
    DENSE_ENOUGH = 1.3

    def __init__(self, decoding: list[Segment], lengths: list[int | None]):
        import torch  # lazy: torch takes seconds to import

        self.slots = [s.slot for s in decoding]
        self.lengths = [lengths[s] for s in self.slots]
        self.slot_index = torch.tensor(self.slots)
        self.position_index = torch.tensor(self.lengths)
        self.span = max(self.slots) + 1
        self.longest = max(self.lengths) + 1
        self.mask = None
        if self.span * self.longest <= self.DENSE_ENOUGH * (sum(self.lengths) + len(self.lengths)):
            # Slots that are not decoding this step (free, or being prefilled) see position 0 only:
            # their rows are computed and dropped, and a row that sees nothing would be NaN.
            visible = torch.ones(self.span, dtype=torch.long)
            visible[self.slot_index] = self.position_index + 1
            self.mask = (torch.arange(self.longest)[None, :] < visible[:, None])[:, None, None, :]


def _rotate(states, cos, sin):
    import torch  # lazy: torch takes seconds to import

    half = states.shape[-1] // 2
    rotated = torch.cat((-states[..., half:], states[..., :half]), dim=-1)
    return states * cos + rotated * sin


def _causal_mask(past: int, new: int):
    """Boolean mask for ``new`` queries after ``past`` cached tokens; None when every key is visible."""
    if new == 1:
        return None
    import torch  # lazy: torch takes seconds to import

    return torch.ones(new, past + new, dtype=torch.bool).tril(diagonal=past)
