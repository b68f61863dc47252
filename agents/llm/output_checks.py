"""Checking what a model wrote: re-ask a bounded number of times, then fail the step.

Transport faults (timeouts, connection errors, 429, 5xx) are LiteLLM's to retry
(``LiteLLMModel`` retries every call, then moves to the fallback). What reaches
the agents is a completion that may still be unusable: empty, cut off in
transit, or malformed. ``complete_checked`` re-asks for it; when the bound is
spent it raises ``FailedStep``, which ends the client's course (marked failed
in manifest.json with the reason) while the other courses go on.

Re-ask policy: the first re-ask repeats the request exactly, seed included. A
fault in transit (an empty body, a cut stream) is cured by asking again, and a
deterministic model then gives the answer it would have given without the
fault, so a run with faults records what a fault-free run records. Later
re-asks move the seed by one each, so a sampling model that is stuck on a bad
answer for one seed can leave it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from .interface import (
    Completion,
    FailedStep,
    LanguageModel,
    Message,
    ModelUnavailable,
    Sampling,
)

_LETTER = re.compile(r"[^\W\d_]")


def words_problem(text: str) -> str | None:
    """Why ``text`` is not a usable utterance ("empty output", "no words"), or None.

    The rule is deliberately loose: any letter counts, so a terse "No." passes and
    only blank output or junk without a single letter (markup, replacement
    characters, digits) is refused. Text cut off in transit is caught by the
    completion's ``cut_off`` flag, not by guessing from the words.
    """
    if not text.strip():
        return "empty output"
    if not _LETTER.search(text):
        return "no words (malformed output)"
    return None


def reask_sampling(sampling: Sampling, attempt: int) -> Sampling:
    """Attempt 0 and the first re-ask use ``sampling`` as is; later re-asks move the seed (see module doc)."""
    if attempt <= 1 or sampling.seed is None:
        return sampling
    return replace(sampling, seed=sampling.seed + attempt - 1)


def rejected(completion: Completion, reason: str) -> Completion:
    """``completion`` marked as refused, so usage counts it as a re-ask."""
    return replace(completion, rejected=reason)


def cut_off_problem(completion: Completion) -> str | None:
    if completion.cut_off:
        return "truncated output (stopped for length before its token budget)"
    return None


def complete_checked(
    llm: LanguageModel,
    messages: list[Message],
    sampling: Sampling,
    *,
    step: str,
    check: Callable[[str], str | None],
    salvage: Callable[[str], bool] | None = None,
) -> list[Completion]:
    """Ask ``llm`` until ``check`` finds no problem; returns every completion, the accepted one last.

    The bound, the role's name and where faults are counted are members of ``llm``
    (``output_retries``, ``role``, ``note_fault``: a ``MeteredModel``'s own, or the
    interface's defaults). When the bound is spent, the latest output that
    ``salvage`` accepts is used as is (a step with a documented repair, such as
    memory fields filled in from the record): a re-ask that came back blank does
    not throw away an earlier answer that was usable. Otherwise ``FailedStep`` is raised.
    """
    role, bound, note = llm.role, llm.output_retries, llm.note_fault
    completions: list[Completion] = []
    refused: list[tuple[Completion, str]] = []
    problem = ""
    for attempt in range(bound + 1):
        try:
            completion = llm.complete(messages, reask_sampling(sampling, attempt))
        except ModelUnavailable as error:
            note("failures")
            raise FailedStep(role, step, str(error), tuple(completions)) from error
        problem = cut_off_problem(completion) or check(completion.text)
        if problem is None:
            return [*completions, completion]
        refused.append((completion, problem))
        completions.append(rejected(completion, problem))
        if attempt < bound:
            note("reasks")
    if salvage is not None:
        for index in reversed(range(len(refused))):
            completion, _ = refused[index]
            if not cut_off_problem(completion) and salvage(completion.text):
                return [*completions[:index], *completions[index + 1:], completion]
    note("failures")
    raise FailedStep(role, step, f"{problem} after {bound + 1} attempts", tuple(completions))


def failure_entry(error: BaseException) -> dict:
    """A failed course's manifest fields: the reason, and the failed step's role when there is one."""
    if isinstance(error, FailedStep):
        return {"error": str(error), "failed_step": {"role": error.role, "step": error.step, "reason": error.reason}}
    return {"error": f"{type(error).__name__}: {error}"}
