"""Dynamic batching of the local provider: the queue logic (fast) and batched == unbatched on the real model."""

import math
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from muspsy_sim.agents.llm.local.requests import (
    Generated,
    GenerationRequest,
    ScoringRequest,
    collect_batch,
    split_by_kind,
)
from muspsy_sim.agents.llm.local.settings import BatchSettings, choose_dtype, cpu_flags, threads_for_load
from muspsy_sim.agents.llm.local.static_batching import StaticBatcher


def test_collect_batch_takes_what_is_queued_up_to_max_batch():
    requests = queue.Queue()
    for number in range(5):
        requests.put(number)
    assert collect_batch(requests, max_batch=3, wait_seconds=0.0) == [0, 1, 2]
    assert collect_batch(requests, max_batch=3, wait_seconds=0.0) == [3, 4]


def test_collect_batch_waits_for_late_requests_only_within_the_window():
    requests = queue.Queue()
    requests.put("first")
    threading.Timer(0.05, requests.put, args=("late",)).start()
    assert collect_batch(requests, max_batch=4, wait_seconds=2.0) == ["first", "late"]
    requests.put("alone")
    threading.Timer(0.3, requests.put, args=("too late",)).start()
    assert collect_batch(requests, max_batch=4, wait_seconds=0.01) == ["alone"]
    assert collect_batch(requests, max_batch=4, wait_seconds=0.0) == ["too late"]


def test_max_batch_one_never_waits():
    requests = queue.Queue()
    requests.put("only")
    ticks = iter([0.0, 100.0])
    assert collect_batch(requests, max_batch=1, wait_seconds=60.0, clock=lambda: next(ticks)) == ["only"]


def test_split_by_kind():
    score, generate = ScoringRequest([1]), GenerationRequest([2], max_tokens=3)
    assert split_by_kind([generate, score]) == ([score], [generate])


def test_settings_from_environment():
    assert BatchSettings.from_environment({}) == BatchSettings(16, 0.02, 0)
    settings = BatchSettings.from_environment({"MUSPSY_LOCAL_MAX_BATCH": "4", "MUSPSY_LOCAL_BATCH_WAIT_MS": "0",
                                               "MUSPSY_LOCAL_THREADS": "1"})
    assert settings == BatchSettings(4, 0.0, 1)
    for name, bad in (("MUSPSY_LOCAL_MAX_BATCH", "0"), ("MUSPSY_LOCAL_MAX_BATCH", "many"),
                      ("MUSPSY_LOCAL_BATCH_WAIT_MS", "-5")):
        with pytest.raises(ValueError, match=name):
            BatchSettings.from_environment({name: bad})


def test_the_dtype_follows_what_the_cpu_computes_natively():
    avx2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
    assert choose_dtype({}, avx2).dtype == "float32"
    assert "no native bf16" in choose_dtype({}, avx2).reason
    for native in ("avx512_bf16", "amx_bf16"):
        chosen = choose_dtype({}, avx2 | {native})
        assert chosen.dtype == "bfloat16" and native in chosen.reason
    assert choose_dtype({"MUSPSY_LOCAL_DTYPE": "fp32"}, avx2 | {"amx_bf16"}) == \
        type(chosen)("float32", "MUSPSY_LOCAL_DTYPE=fp32")
    assert choose_dtype({"MUSPSY_LOCAL_DTYPE": "bf16"}, avx2).dtype == "bfloat16"
    assert choose_dtype({"MUSPSY_LOCAL_DTYPE": "auto"}, avx2).dtype == "float32"
    with pytest.raises(ValueError, match="MUSPSY_LOCAL_DTYPE"):
        choose_dtype({"MUSPSY_LOCAL_DTYPE": "fp16"}, avx2)
    assert "avx2" in cpu_flags("processor\t: 0\nflags\t\t: fpu sse avx2\nbugs\t: none\n")
    assert cpu_flags("no flags line") == frozenset()


def test_threads_follow_the_load():
    assert threads_for_load(2, 0.3) == 2
    assert threads_for_load(2, 2.2) == 2  # this worker's own two threads
    assert threads_for_load(2, 9.0) == 1
    assert threads_for_load(16, 20.0) == 12


class _RecordingBatcher(StaticBatcher):
    """Serves requests without a model: echoes each prompt, and records how they were grouped."""

    def __init__(self, settings):
        super().__init__(model=None, tokenizer=None, settings=settings)
        self.groups = []

    def _generate_group(self, group):
        self.groups.append(("generate", len(group)))
        if any(r.max_tokens < 0 for r in group):
            raise RuntimeError("bad request in the batch")
        return [Generated(str(r.input_ids), tuple(r.input_ids[: r.max_tokens])) for r in group]

    def _score_group(self, group):
        self.groups.append(("score", len(group)))
        return [sum(r.input_ids) for r in group]


def test_concurrent_callers_are_batched_and_each_gets_its_own_result():
    batcher = _RecordingBatcher(BatchSettings(max_batch=8, wait_seconds=0.5, threads=1))
    barrier = threading.Barrier(6)

    def call(number):
        barrier.wait()
        if number % 2:
            return batcher.score(ScoringRequest([number, number]))
        return batcher.generate(GenerationRequest([number] * 3, max_tokens=number))

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(call, range(6)))
    assert results[1::2] == [2, 6, 10]
    assert [r.token_ids for r in results[0::2]] == [(), (2, 2), (4, 4, 4)]
    assert sorted(batcher.groups) == [("generate", 3), ("score", 3)]


def test_a_failing_batch_fails_its_callers_not_the_worker():
    batcher = _RecordingBatcher(BatchSettings(max_batch=1, wait_seconds=0.0, threads=1))
    with pytest.raises(RuntimeError, match="bad request"):
        batcher.generate(GenerationRequest([1], max_tokens=-1))
    assert batcher.generate(GenerationRequest([1], max_tokens=1)).token_ids == (1,)


def test_sampling_rules_match_transformers():
    import torch
    from transformers.generation.logits_process import RepetitionPenaltyLogitsProcessor, TopPLogitsWarper

    from muspsy_sim.agents.llm.local.decoding import nucleus

    torch.manual_seed(0)
    logits = torch.randn(1, 50)
    sequence = torch.tensor([[3, 7, 7, 20]])
    expected = RepetitionPenaltyLogitsProcessor(1.15)(sequence, logits.clone())
    seen = torch.zeros(1, 50, dtype=torch.bool)
    seen[0, sequence[0]] = True
    penalized = torch.where(seen, torch.where(logits < 0, logits * 1.15, logits / 1.15), logits)
    assert torch.equal(penalized, expected)
    # A small vocabulary, a peaked large one (the nucleus is within the first candidates) and a flat
    # large one (it is not, and the whole vocabulary is sorted).
    for scores in (expected / 0.7, torch.randn(1, 5000) * 8, torch.randn(1, 5000) * 0.1):
        warped = TopPLogitsWarper(0.9)(sequence, scores.clone()).softmax(-1)[0]
        ids, kept = nucleus(scores, torch.tensor([0.9]))
        ours = torch.zeros_like(warped)
        ours[ids[0]] = kept[0]
        assert torch.allclose(ours / ours.sum(), warped, atol=1e-6)


def test_sampled_tokens_follow_the_nucleus_probabilities():
    import torch

    from muspsy_sim.agents.llm.local.decoding import DecodingRow, choose_tokens

    scores = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    row = DecodingRow(GenerationRequest([0], max_tokens=1, temperature=1.0, top_p=0.9, seed=3), tokenizer=None)
    counts = torch.zeros(4)
    for _ in range(4000):
        counts[choose_tokens(scores, torch.zeros(1, 4, dtype=torch.bool), torch.ones(1, 1), [row])[0]] += 1
    # top_p 0.9 keeps 0.5, 0.3 and 0.15 (0.95 of the mass), renormalized; the 0.05 token never comes.
    assert counts[3] == 0
    assert torch.allclose(counts[:3] / 4000, torch.tensor([0.5, 0.3, 0.15]) / 0.95, atol=0.03)


# --- the embedded model: short prompts, at most 12 new tokens ---------------------------------------------------

PROMPTS = [
    ([{"role": "user", "content": "I cannot sleep at night and it is awful. What should I do?"}], 10, ()),
    ([{"role": "system", "content": "You are a counselor."}, {"role": "user", "content": "My boss yells at me."},
      {"role": "assistant", "content": "This week, try"}], 12, ("!",)),
    ([{"role": "user", "content": "Name three fruits."}], 8, (".",)),
]


@pytest.fixture(scope="module")
def loaded(model_cache):
    from muspsy_sim.agents.llm.local.loading import load_local_model
    from muspsy_sim.agents.llm.local.resolution import EMBEDDED_MODEL, resolve_local_model

    # fp32: batched and alone agree exactly only there (bf16 sums depend on the batch's shape).
    return load_local_model(resolve_local_model(EMBEDDED_MODEL), dtype="float32")


def _requests(loaded, temperature=0.0):
    from muspsy_sim.agents.llm.local.serving import chat_prompt_ids

    return [GenerationRequest(chat_prompt_ids(loaded, messages), max_tokens, stop, temperature=temperature, seed=5)
            for messages, max_tokens, stop in PROMPTS]


@pytest.mark.real_model
def test_batched_greedy_generation_equals_unbatched(loaded, monkeypatch):
    import torch

    from muspsy_sim.agents.llm.local.serving import generate
    from muspsy_sim.agents.llm.local.static_batching import generate_batch

    torch.set_num_threads(1)  # the same kernels for both sides, whatever the load
    alone = [generate_batch(loaded.model, loaded.tokenizer, [request])[0] for request in _requests(loaded)]
    # Through the provider, from concurrent threads, as the courses of a campaign call it.
    monkeypatch.setenv("MUSPSY_LOCAL_MAX_BATCH", "3")
    monkeypatch.setenv("MUSPSY_LOCAL_BATCH_WAIT_MS", "5000")
    monkeypatch.setenv("MUSPSY_LOCAL_THREADS", "1")
    with ThreadPoolExecutor(3) as pool:
        batched = list(pool.map(lambda p: generate(loaded, p[0], max_tokens=p[1], temperature=0.0, seed=None,
                                                   stop=list(p[2])), PROMPTS))
    assert max(loaded.batcher().batch_sizes) == 3  # the three rows shared forward passes
    assert [(g.text, len(g.token_ids)) for g in alone] == [(text, tokens) for text, _, tokens in batched]
    # Each row kept its own budget and stop string.
    lengths = [len(g.token_ids) for g in alone]
    assert lengths[0] == 10 and lengths[1] <= 12 and lengths[2] <= 8
    for generated, (_, _, stop) in zip(alone, PROMPTS):
        assert generated.text and not any(marker in generated.text for marker in stop)

    # The decode loop reproduces what transformers' generate gave for one request before batching.
    request = _requests(loaded)[0]
    with torch.inference_mode():
        reference = loaded.model.generate(input_ids=torch.tensor([request.input_ids]), max_new_tokens=10,
                                          do_sample=False, repetition_penalty=1.15,
                                          pad_token_id=loaded.tokenizer.pad_token_id)
    assert tuple(reference[0, len(request.input_ids):].tolist()) == alone[0].token_ids


@pytest.mark.real_model
def test_seeded_sampling_does_not_depend_on_the_batch(loaded):
    import torch

    from muspsy_sim.agents.llm.local.static_batching import generate_batch

    torch.set_num_threads(1)
    alone = generate_batch(loaded.model, loaded.tokenizer, _requests(loaded, temperature=0.7)[:1])[0]
    together = generate_batch(loaded.model, loaded.tokenizer, _requests(loaded, temperature=0.7))[0]
    assert alone == together


@pytest.mark.real_model
def test_batched_scoring_equals_unbatched(loaded):
    import torch

    from muspsy_sim.agents.llm.local.serving import chat_prompt_ids
    from muspsy_sim.agents.llm.local.static_batching import score_batch

    torch.set_num_threads(1)
    prompts = [chat_prompt_ids(loaded, messages, allow_prefill=False) for messages, _, _ in PROMPTS]
    requests = [ScoringRequest(ids) for ids in prompts]
    alone = [score_batch(loaded.model, loaded.tokenizer.pad_token_id, [request])[0] for request in requests]
    together = score_batch(loaded.model, loaded.tokenizer.pad_token_id, requests)
    for one, batched in zip(alone, together):
        assert int(one.argmax()) == int(batched.argmax())
        assert math.isclose(float((one - batched).abs().max()), 0.0, abs_tol=1e-3)


def testshared_prefix_groups():
    from muspsy_sim.agents.llm.local.prefix_cache import SHARED_PREFIX_MIN
    from muspsy_sim.agents.llm.local.static_batching import shared_prefix_groups

    head = list(range(100, 100 + SHARED_PREFIX_MIN + 5))
    prompts = [head + [1, 2], [7] * 50, head + [3], head[:10] + [9] * 40, head + [1, 5, 6]]
    groups = shared_prefix_groups(prompts)
    together = [sorted(members) for members, shared in groups if len(members) > 1]
    assert together == [[0, 2, 4]]
    assert dict((tuple(sorted(m)), s) for m, s in groups)[(0, 2, 4)] == len(head)
    # A prompt that is entirely the shared prefix still leaves itself one token to score.
    members, shared = shared_prefix_groups([head, head + [4]])[0]
    assert sorted(members) == [0, 1] and shared == len(head) - 1


@pytest.mark.real_model
def test_questionnaire_items_share_their_prefix_and_score_as_alone(loaded):
    """Items of one questionnaire differ only near the end: scored together off one prefill, exactly as alone."""
    import torch

    from muspsy_sim.agents.client.questionnaires import ITEM, PREAMBLE
    from muspsy_sim.agents.llm.local.prefix_cache import SHARED_PREFIX_MIN
    from muspsy_sim.agents.llm.local.serving import chat_prompt_ids
    from muspsy_sim.agents.llm.local.static_batching import score_batch, shared_prefix_groups
    from muspsy_sim.agents.prompting import render

    torch.set_num_threads(1)
    fixed = {"pseudonym": "Priya", "age": 38, "occupation": "project manager", "title": "PHQ-9", "session_index": 2,
             "presenting_problem": "Constant worry about work and health.", "moment": "before",
             "instructions": "Over the last two weeks, how often have you been bothered by the following?",
             "scale": "0 = not at all, 1 = several days, 2 = more than half the days, 3 = nearly every day",
             "feelings": "your distress is high, your trust in the counselor is moderate, and your mood is low.",
             "situation": "Since the last session: you slept badly for several nights."}
    items = ["Little interest or pleasure in doing things", "Feeling down, depressed, or hopeless",
             "Trouble falling or staying asleep"]
    prompts = [chat_prompt_ids(loaded, [{"role": "user", "content": render(PREAMBLE, **fixed) + "\n" + render(
        ITEM, item=item)}], allow_prefill=False) for item in items]
    [(members, shared)] = shared_prefix_groups(prompts)
    assert len(members) == 3 and shared >= SHARED_PREFIX_MIN
    requests = [ScoringRequest(ids) for ids in prompts]
    alone = [score_batch(loaded.model, loaded.tokenizer.pad_token_id, [request])[0] for request in requests]
    together = score_batch(loaded.model, loaded.tokenizer.pad_token_id, requests)
    digits = [loaded.tokenizer.encode(str(d), add_special_tokens=False)[0] for d in range(4)]
    for one, batched in zip(alone, together):
        assert int(one[digits].argmax()) == int(batched[digits].argmax())
        assert math.isclose(float((one[digits] - batched[digits]).abs().max()), 0.0, abs_tol=1e-3)
