"""Continuous batching over the packed forward: on a tiny random Llama (fast), and on the embedded model."""

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from muspsy_sim.agents.llm.local.prefix_cache import MIN_REUSE, PrefixCache, common_prefix_length
from muspsy_sim.agents.llm.local.requests import GenerationRequest, ScoringRequest
from muspsy_sim.agents.llm.local.settings import BatchSettings

VOCABULARY = 97


class _DigitTokenizer:
    """Token i decodes to ' i'; enough for stop strings and results."""

    eos_token_id = 0
    pad_token_id = 0

    def decode(self, tokens, skip_special_tokens=True):
        return "".join(f" {t}" for t in tokens if not (skip_special_tokens and t == 0))


@pytest.fixture(scope="module")
def tiny_llama():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=VOCABULARY, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         eos_token_id=0, bos_token_id=1, pad_token_id=0)
    return LlamaForCausalLM(config).eval()


def _prompts(count, length=20, seed=1):
    import torch

    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(2, VOCABULARY, (length + 7 * i,), generator=generator).tolist() for i in range(count)]


def _batcher(model, max_batch=8, wait=0.0, prefix_tokens=4096):
    from muspsy_sim.agents.llm.local.continuous_batching import ContinuousBatcher

    return ContinuousBatcher(model, _DigitTokenizer(), BatchSettings(max_batch, wait, 1, prefix_tokens))


def test_packed_forward_equals_the_transformers_forward(tiny_llama):
    import torch

    from muspsy_sim.agents.llm.local.packed_llama import PackedLlama, Segment, supports

    assert supports(tiny_llama)
    engine = PackedLlama(tiny_llama)
    prompts = _prompts(3)
    with torch.inference_mode():
        expected = [tiny_llama(input_ids=torch.tensor([p])).logits[0, -1] for p in prompts]
    slots = [engine.slots.acquire() for _ in prompts]
    # Fed in two uneven chunks, the middle one without logits, and returned in the callers' order.
    assert engine.forward([Segment(s, p[:5], wants_logits=False) for s, p in zip(slots, prompts)]) is None
    got = engine.forward([Segment(s, p[5:]) for s, p in reversed(list(zip(slots, prompts)))])
    for ours, theirs in zip(reversed(got), expected):
        assert torch.allclose(ours, theirs, atol=1e-5)
    # Decoding rows (one token each, batched attention) next to a row still prefilling.
    fresh = engine.slots.acquire()
    got = engine.forward([Segment(slots[0], [5]), Segment(fresh, prompts[1]), Segment(slots[2], [9])])
    with torch.inference_mode():
        for ours, sequence in zip(got, (prompts[0] + [5], prompts[1], prompts[2] + [9])):
            assert torch.allclose(ours, tiny_llama(input_ids=torch.tensor([sequence])).logits[0, -1], atol=1e-5)


def test_kv_slots_reuse_freed_slots_and_grow_keeping_their_contents():
    import torch

    from muspsy_sim.agents.llm.local.packed_llama import KVSlots

    slots = KVSlots(layers=2, kv_heads=1, head_dim=4, dtype=torch.float32)
    first, second = slots.acquire(), slots.acquire()
    assert (first, second) == (0, 1)
    keys = torch.arange(2 * 3 * 4, dtype=torch.float32).view(2, 1, 3, 4)
    slots.load(second, keys, -keys)
    slots.reserve(second, 2000)
    assert slots.keys.shape[3] >= 2000
    snapshot_keys, snapshot_values = slots.snapshot(second, 3)
    assert torch.equal(snapshot_keys, keys) and torch.equal(snapshot_values, -keys)
    slots.release(first)
    assert slots.acquire() == 0 and slots.lengths == [0, 3]
    # Once the long sequences are gone, the buffer shrinks back (keeping what the others hold).
    slots.release(0)
    assert slots.keys.shape[3] == 256 and slots.lengths == [None, 3]
    assert torch.equal(slots.snapshot(1, 3)[0], keys)
    slots.release(1)
    assert slots.lengths == [] and slots.keys.shape[3] == 256


def test_prefix_cache_finds_the_longest_shared_start_and_evicts_least_recently_used():
    import torch

    def kv(length):
        return torch.full((1, 1, length, 2), float(length)), torch.zeros(1, 1, length, 2)

    base = list(range(100, 140))
    cache = PrefixCache(max_tokens=100)
    cache.add(base, *kv(40))
    cache.add(base[:30] + [1] * 20, *kv(50))
    found = cache.longest_prefix(base[:35] + [7, 8])
    cache.use(found)
    assert cache.hits == 1 and cache.reused_tokens == 35
    assert found.length == 35 and found.keys.shape[2] == 35 and float(found.keys[0, 0, 0, 0]) == 40.0
    assert cache.longest_prefix(base).length == len(base) - 1  # the last token is always fed
    assert cache.longest_prefix(base[:MIN_REUSE - 1] + [5] * 30) is None  # too short to be worth a copy
    cache.add(list(range(30)), *kv(30))  # 120 tokens > 100: the least recently used entry goes
    assert len(cache) == 2
    found = cache.longest_prefix(base[:30] + [1] * 20)  # now only its first 30 tokens, from the other entry
    assert found.length == 30 and float(found.keys[0, 0, 0, 0]) == 40.0
    assert common_prefix_length([1, 2, 3], [1, 2, 4, 5]) == 2 and common_prefix_length([1], [1]) == 1


def test_rows_join_a_running_batch_and_get_what_they_would_alone(tiny_llama):
    prompts = _prompts(5)
    def requests():
        return [GenerationRequest(p, max_tokens=6 + 3 * i, stop=(" 13",) if i == 2 else ())
                for i, p in enumerate(prompts)]

    alone = [_batcher(tiny_llama, max_batch=1).generate(r) for r in requests()]
    batcher = _batcher(tiny_llama)
    late = requests()
    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(batcher.generate, late[4])  # the longest starts alone ...
        while batcher.steps < 3:
            time.sleep(0.001)
        rest = list(pool.map(batcher.generate, late[:4]))  # ... and the others join it mid-flight
        together = rest + [first.result()]
    assert together == alone
    assert max(batcher.batch_sizes) >= 2 and batcher.batch_sizes[0] == 1
    assert [len(g.token_ids) for g in alone] == [6, 9, len(alone[2].token_ids), 15, 18]


def test_scoring_shares_a_cached_prefix_and_equals_scoring_alone(tiny_llama):
    import torch

    head = _prompts(1, length=80)[0]
    items = [head + [3, 4], head + [5], head + [6, 7, 8]]
    batcher = _batcher(tiny_llama)
    barrier = threading.Barrier(3)

    def score(prompt):
        barrier.wait()
        return batcher.score(ScoringRequest(prompt))

    with ThreadPoolExecutor(3) as pool:
        together = list(pool.map(score, items))
    # One item was prefilled whole; the others waited for it and fed only their ends.
    assert batcher.prefix_cache.hits == 2 and batcher.prefix_cache.reused_tokens == 2 * len(head)
    with torch.inference_mode():
        for scores, prompt in zip(together, items):
            expected = torch.log_softmax(tiny_llama(input_ids=torch.tensor([prompt])).logits[0, -1], dim=-1)
            assert torch.allclose(scores, expected, atol=1e-5)


def test_at_most_max_batch_rows_are_in_flight(tiny_llama):
    batcher = _batcher(tiny_llama, max_batch=2)
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(batcher.generate, [GenerationRequest(p, max_tokens=4) for p in _prompts(5)]))
    assert len(results) == 5 and max(batcher.batch_sizes) == 2


def test_a_failing_step_fails_its_callers_not_the_worker(tiny_llama, monkeypatch):
    batcher = _batcher(tiny_llama)
    original = batcher.engine.forward
    monkeypatch.setattr(batcher.engine, "forward", lambda segments: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        batcher.generate(GenerationRequest(_prompts(1)[0], max_tokens=3))
    monkeypatch.setattr(batcher.engine, "forward", original)
    assert len(batcher.generate(GenerationRequest(_prompts(1)[0], max_tokens=3)).token_ids) == 3
    assert all(length is None for length in batcher.engine.slots.lengths)  # every slot freed


@pytest.mark.real_model
def test_embedded_model_uses_continuous_batching_and_matches_transformers(model_cache):
    import torch

    from muspsy_sim.agents.llm.local.continuous_batching import ContinuousBatcher
    from muspsy_sim.agents.llm.local.loading import load_local_model
    from muspsy_sim.agents.llm.local.resolution import EMBEDDED_MODEL, resolve_local_model
    from muspsy_sim.agents.llm.local.serving import chat_prompt_ids

    loaded = load_local_model(resolve_local_model(EMBEDDED_MODEL), dtype="float32")  # exact agreement: fp32
    assert isinstance(loaded.batcher(BatchSettings(4, 0.0, 1)), ContinuousBatcher)
    prompt = chat_prompt_ids(loaded, [{"role": "user", "content": "I worry about my exams every night."}])
    with torch.inference_mode():
        expected = loaded.model.generate(input_ids=torch.tensor([prompt]), max_new_tokens=8, do_sample=False,
                                         repetition_penalty=1.15, pad_token_id=loaded.tokenizer.pad_token_id)
    generated = loaded.batcher(BatchSettings(4, 0.0, 1)).generate(GenerationRequest(prompt, max_tokens=8))
    assert generated.token_ids == tuple(expected[0, len(prompt):].tolist())
    assert not math.isnan(float(loaded.batcher(BatchSettings(4, 0.0, 1)).score(ScoringRequest(prompt)).max()))
