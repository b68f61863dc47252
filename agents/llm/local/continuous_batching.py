"""Continuous batching for Llama-family local models: requests join and leave the batch at every step.

With static batching a request that arrives while a batch decodes waits for the whole batch, and
a batch runs as long as its longest row; the courses of a campaign, each making one call after
another, then rarely fill it. Here one worker thread runs steps. Each step:

- admits waiting requests up to ``max_batch`` rows in flight, each into its own slot of the
  packed model's key/value buffer, starting from the longest cached prefix of its prompt;
- feeds one packed forward pass: one token for every decoding row, plus up to ``PREFILL_CHUNK``
  prompt tokens of rows still being prefilled. Prefill is compute-bound on the CPU, and a decode
  token costs about as much as a prompt token there, so decoding rows ride along nearly free;
- chooses the next token of every row that has one (greedy or sampled, each row with its own
  settings and generator), hands finished rows their result and frees their slots.

A row's result does not depend on the other rows: rows share only the matrix products, which
are computed per token. A request whose prompt shares a long start with a row still being
prefilled waits for that row, then starts from its cached prefix (a questionnaire's items).
"""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass

from .decoding import DecodingRow, choose_tokens, eos_ids
from .packed_llama import PackedLlama, Segment
from .prefix_cache import SHARED_PREFIX_MIN, PrefixCache, common_prefix_length
from .requests import GenerationRequest, QueueWorker, ScoringRequest, collect_batch
from .settings import BatchSettings

# Prompt tokens fed per step across the rows being prefilled: big enough that the matrix products
# run near full speed, small enough that decoding rows are not held up for long.
PREFILL_CHUNK = 384


@dataclass
class _Row:
    request: GenerationRequest | ScoringRequest
    slot: int
    pending: list[int]  # tokens still to feed: the rest of the prompt, then each chosen token
    decoding: DecodingRow | None = None  # for generation requests
    seen: object = None  # tokens in the sequence so far (repetition penalty), a bool tensor over the vocabulary

    @property
    def prefilling(self) -> bool:
        return self.decoding is None or not self.decoding.tokens


class ContinuousBatcher(QueueWorker):
    def __init__(self, model, tokenizer, settings: BatchSettings):
        super().__init__(settings)
        self.tokenizer = tokenizer
        self.engine = PackedLlama(model)
        self.prefix_cache = PrefixCache(settings.prefix_cache_tokens)
        self.eos_ids = eos_ids(model, tokenizer)
        self.vocabulary = model.config.vocab_size
        self._rows: list[_Row] = []
        self._waiting: list = []  # admitted later: no room, or waiting for a shared prefix
        # For benchmarks: rows per step, and prompt tokens run through the model (not from the cache).
        self.batch_sizes: list[int] = []
        self.prompt_tokens_fed = 0
        self.steps = 0
        self.busy_seconds = 0.0  # time spent in steps (the rest the worker waited for requests)

    def _serve(self) -> None:
        import torch  # lazy: torch takes seconds to import

        # The key/value buffer and cached prefixes are inference tensors: every write to them happens in here.
        with torch.inference_mode():
            self._serve_forever()

    def _serve_forever(self) -> None:
        while True:
            if not self._rows and not self._waiting:
                self._waiting = collect_batch(self._requests, self.settings.max_batch, self.settings.wait_seconds)
            self._take_queued()
            self._admit()
            _set_threads(self.settings.worker_threads())
            started = time.perf_counter()
            try:
                self._step(list(self._rows))
            except BaseException as error:  # the callers, not this thread, must see the failure
                for row in list(self._rows):
                    self._finish(row, error=error)
            self.busy_seconds += time.perf_counter() - started

    def _take_queued(self) -> None:
        while True:
            try:
                self._waiting.append(self._requests.get_nowait())
            except queue.Empty:
                return

    def _admit(self) -> None:
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            if len(self._rows) >= self.settings.max_batch:
                self._waiting.append(request)
                continue
            prompt = request.input_ids
            cached = self.prefix_cache.longest_prefix(prompt)
            reuse = cached.length if cached else 0
            in_flight = max((common_prefix_length(prompt, r.request.input_ids) for r in self._rows
                             if r.prefilling), default=0)
            if min(in_flight, len(prompt) - 1) >= reuse + SHARED_PREFIX_MIN:
                self._waiting.append(request)  # its prefix will be in the cache once that row is prefilled
                continue
            slot = self.engine.slots.acquire()
            if cached:
                self.prefix_cache.use(cached)
                self.engine.slots.load(slot, cached.keys, cached.values)
            row = _Row(request, slot, list(prompt[reuse:]))
            if isinstance(request, GenerationRequest):
                self._start_decoding(row)
            self._rows.append(row)

    def _start_decoding(self, row: _Row) -> None:
        import torch  # lazy: torch takes seconds to import

        row.decoding = DecodingRow(row.request, self.tokenizer)
        row.seen = torch.zeros(self.vocabulary, dtype=torch.bool)
        row.seen[torch.tensor(row.request.input_ids)] = True

    def _step(self, rows: list[_Row]) -> None:
        import torch  # lazy: torch takes seconds to import

        decoding = [r for r in rows if not r.prefilling]
        segments = [Segment(r.slot, r.pending) for r in decoding]
        prefilled, budget = [], PREFILL_CHUNK
        for row in (r for r in rows if r.prefilling):
            if budget <= 0:
                break
            chunk, row.pending = row.pending[:budget], row.pending[budget:]
            budget -= len(chunk)
            self.prompt_tokens_fed += len(chunk)
            segments.append(Segment(row.slot, chunk, wants_logits=not row.pending))
            if not row.pending:
                prefilled.append(row)
        for row in decoding:
            row.pending = []
        logits = self.engine.forward(segments)
        self.steps += 1
        self.batch_sizes.append(len(segments))
        for row in prefilled:
            length = len(row.request.input_ids)
            if length >= 2 * SHARED_PREFIX_MIN:
                self.prefix_cache.add(row.request.input_ids, *self.engine.slots.snapshot(row.slot, length))
        ready = decoding + prefilled
        scoring = [(i, r) for i, r in enumerate(ready) if r.decoding is None]
        for index, row in scoring:
            self._finish(row, result=torch.log_softmax(logits[index], dim=-1))
        generating = [(i, r) for i, r in enumerate(ready) if r.decoding is not None]
        if generating:
            self._choose([r for _, r in generating], logits[[i for i, _ in generating]])

    def _choose(self, rows: list[_Row], logits) -> None:
        import torch  # lazy: torch takes seconds to import

        seen = torch.stack([r.seen for r in rows])
        penalty = torch.tensor([[r.request.repetition_penalty] for r in rows])
        tokens = choose_tokens(logits, seen, penalty, [r.decoding for r in rows])
        for row, token in zip(rows, tokens.tolist()):
            row.seen[token] = True
            if row.decoding.add(token, self.eos_ids):
                self._finish(row, result=row.decoding.result())
            else:
                row.pending = [token]

    def _finish(self, row: _Row, result=None, error: BaseException | None = None) -> None:
        if row in self._rows:
            self._rows.remove(row)
            self.engine.slots.release(row.slot)
        if row.request.result.done():
            return
        if error is not None:
            row.request.result.set_exception(error)
        else:
            row.request.result.set_result(result)


def _set_threads(threads: int) -> None:
    import torch  # lazy: torch takes seconds to import

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
