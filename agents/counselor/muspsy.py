"""The MusPsy counselor: plan the goal, converse with retrieved memories, extract a memory.

It follows the three MusPsy tasks (Wang et al., 2026): goal planning from the
intake and earlier memories; counseling generation from the goal, the intake,
the last memory, the dialogue so far and the memories retrieved for the
client's latest utterance; memory extraction from the transcript. The prompt
templates are the files in ``prompts/``; the training export renders the same
files, so a model trained on it sees at inference what it was trained on.

The small-model scaffold (``scaffold``, on by default; ``counselor_options: {scaffold: off}`` turns it
off): from session 2 the opening checks in on the last assignment from a template
(``opening_checkin.txt``, turn source "template"); the closing turn is prefilled with "This week, try"
(joined on when the model ignores the prefill), and the turn records those words as the program's
(``prefilled``: scores read only the model's part); memory fields the model left out are filled in from the
session record (listed in ``filled_in``); too short a goal (or only a "Session goal:" label, once asked
again) becomes a template goal (source "fallback").
Off, the model does all of it alone: its own opening, its own closing, a missing memory field stays
missing (the next session plans from what the model extracted) and its goal stands as it wrote it.
Safety steps (``safety``) are separate and stay, marked, either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from muspsy_sim.memory.base import DEFAULT_TOP_K
from muspsy_sim.simulation.core.course import MEMORY_LABELS, SessionMemory
from muspsy_sim.simulation.core.provenance import qualified_name
from muspsy_sim.simulation.core.turns import (
    CounselorTurn,
    RetrievedMemory,
    Turn,
    format_turns,
    last_client_text,
    last_counselor_text,
)

from ..llm import LanguageModel, Sampling, complete_checked, words_problem
from ..prompting import clean_utterance, first_sentences, render
from .base import (
    CounselorReply,
    ExtractedMemory,
    PlannedGoal,
    SessionContext,
    Stage,
)
from .safety import check_in_turn, safety_check_in, safety_step

PROMPTS = Path(__file__).resolve().parent / "prompts"
SESSION_START = "(The session begins.)"
# The closing turn is generated as a continuation of this prefix, so it states
# an assignment even from a small model; models that ignore prefill still get it.
HOMEWORK_PREFIX = "This week, try"
_HOMEWORK = re.compile(r"(this week,?\s.*|homework.*|try\s.*)", re.IGNORECASE | re.DOTALL)


class MusPsyCounselor:
    """The MusPsy counselor; a ``Counselor`` and a ``PromptRenderer`` (agents/counselor/base.py)."""

    name = "muspsy"
    retrieves = True  # searches the memory store for each turn (evaluation measures its retrieval recall)

    def __init__(self, llm: LanguageModel, sampling: Sampling, store=None, top_k: int = DEFAULT_TOP_K,
                 memory_max_tokens: int = 120, goal_max_tokens: int = 40, safety: bool = True,
                 scaffold: bool | str = True):
        if not isinstance(safety, bool):
            raise TypeError("option 'safety' must be true or false")
        self.scaffold = scaffold_switch(scaffold)
        self.llm = llm
        self.sampling = sampling
        self.store = store
        self.top_k = top_k
        self.memory_max_tokens = memory_max_tokens
        self.goal_max_tokens = goal_max_tokens
        self.safety = safety  # the safety step of agents.counselor.safety

    def describe(self) -> dict:
        return {
            "name": self.name,
            "class": qualified_name(self),
            "options": {"top_k": self.top_k, "memory_max_tokens": self.memory_max_tokens,
                        "goal_max_tokens": self.goal_max_tokens, "safety": self.safety,
                        "scaffold": "on" if self.scaffold else "off"},
        }

    # -- what the counselor gets to see of earlier sessions -------------------
    def _memories_for_planning(self, context: SessionContext) -> str:
        return "\n".join(m.brief() for m in context.memories) or "none (first session)"

    def _last_memory(self, context: SessionContext) -> str:
        return context.last_memory.brief() if context.last_memory else "none (first session)"

    def _recall(self, context: SessionContext, query: str) -> list[RetrievedMemory]:
        if self.store is None or self.top_k <= 0 or context.session_index <= 1 or not query:
            return []
        return list(self.store.search(context.client_id, context.session_index, query, self.top_k))

    @staticmethod
    def recalled_text(retrieved: Sequence[RetrievedMemory]) -> str:
        """The retrieved memory records as the counseling prompt shows them ("none" when there are none)."""
        return " | ".join(f"[session {r.session_index}] {r.text[:160]}" for r in retrieved) or "none"

    # -- the three tasks ------------------------------------------------------
    def plan_goal(self, context: SessionContext, seed: int) -> PlannedGoal:
        prompt = self.goal_prompt(context)

        def problem(text: str) -> str | None:
            return words_problem(text) or (None if goal_text(text) else "no goal (only a label or markup)")

        # A reply with words but no goal (a bare "Session goal:" label) is asked again; the scaffold then
        # takes it as too short a goal (the template goal below), without the scaffold the step fails.
        completions = complete_checked(
            self.llm, [{"role": "user", "content": prompt}], self._sampling_for(seed, self.goal_max_tokens),
            step="goal", check=problem, salvage=lambda text: self.scaffold and not words_problem(text))
        goal = goal_text(completions[-1].text)
        if len(goal) >= 12 or (not self.scaffold and goal):
            return PlannedGoal(first_sentences(goal, 2)[:300], "model", completions)
        # No goal, or too few words to steer a session: the documented small-model safeguard.
        return PlannedGoal(self._fallback_goal(context), "fallback", completions)

    def _fallback_goal(self, context: SessionContext) -> str:
        problem = context.profile.presenting_problem
        last = context.last_memory
        if last and last.counseling_assignments:
            return f"Review the last assignment and continue work on: {problem}"
        return f"Build trust and assess: {problem}"

    def respond(self, context: SessionContext, turns: Sequence[Turn], stage: Stage, seed: int) -> CounselorReply:
        step = safety_step(context, turns, stage) if self.safety else None
        if step is not None:
            return step
        check_in = safety_check_in(context, stage) if self.safety else ""
        last = context.last_memory
        if self.scaffold and stage == "opening" and last is not None and last.counseling_assignments:
            # MusPsy's instruction is to check the previous assignment first; the
            # opening does so explicitly rather than hoping a small model will.
            retrieved = self._recall(context, last.counseling_assignments)
            text = render(PROMPTS / "opening_checkin.txt", pseudonym=context.profile.pseudonym,
                          assignment=last.counseling_assignments)
            turn = CounselorReply(text, retrieved, "template")
            return check_in_turn(context, check_in, turn) if check_in else turn
        if check_in:
            return check_in_turn(context, check_in)
        query = last_client_text(turns, context.goal)
        retrieved = self._recall(context, query)
        messages = self.counseling_messages(context, turns, stage, self.recalled_text(retrieved))
        prefill = HOMEWORK_PREFIX if self.scaffold and stage == "closing" else None
        if prefill:
            messages.append({"role": "assistant", "content": prefill})
        completions = complete_checked(self.llm, messages, self._sampling_for(seed), step=f"{stage} turn",
                                       check=lambda text: words_problem(clean_utterance(text)))
        text = clean_utterance(completions[-1].text)
        if prefill and not text.lower().startswith(prefill.lower()):
            # The client hears the prefix with the model's words (a local model continues it; an API model
            # may ignore it and write a turn of its own): the prefix is the program's, marked as such.
            return CounselorReply(f"{prefill} {text}", retrieved, "model", completions, prefilled=prefill)
        return CounselorReply(text, retrieved, "model", completions)

    def counseling_messages(self, context: SessionContext, turns: Sequence[Turn], stage: Stage,
                            recalled: str) -> list[dict]:
        """The chat a counseling turn is generated from (MusPsy task 3): instruction, then history."""
        pseudonym = context.profile.pseudonym
        system = render(
            PROMPTS / "counseling.txt",
            session_index=context.session_index,
            pseudonym=pseudonym,
            goal=context.goal,
            intake=context.profile.intake(),
            last_memory=self._last_memory(context),
            retrieved=recalled,
            stage=render(PROMPTS / f"stage_{stage}.txt", pseudonym=pseudonym),
        )
        # Always user first: the session start stands where a client utterance would,
        # so history pairs (client, counselor) line up as in MusPsy's task 3.
        history = [{"role": "user", "content": SESSION_START}] + [
            {"role": "assistant" if isinstance(t, CounselorTurn) else "user", "content": t.text} for t in turns
        ]
        return [{"role": "system", "content": system}, *history]

    def memory_prompt(self, context: SessionContext, turns: Sequence[Turn]) -> str:
        """MusPsy task 1's instruction: the transcript to extract a memory from."""
        return render(
            PROMPTS / "memory_extraction.txt",
            session_index=context.session_index,
            pseudonym=context.profile.pseudonym,
            transcript=format_turns(turns)[-3000:],
        )

    def goal_prompt(self, context: SessionContext) -> str:
        """MusPsy task 2's instruction: the intake and earlier memories."""
        return render(
            PROMPTS / "goal_planning.txt",
            session_index=context.session_index,
            intake=context.profile.intake(),
            memories=self._memories_for_planning(context),
        )

    def extract_memory(self, context: SessionContext, turns: Sequence[Turn], seed: int) -> ExtractedMemory:
        prompt = self.memory_prompt(context, turns)
        # Prefilling the first label keeps small models in the five-line format.
        first_label = f"{next(iter(MEMORY_LABELS))}:"
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": first_label}]

        def labelled(text: str) -> str:
            return text if text.lower().startswith(first_label.lower()) else f"{first_label} {text}"

        def missing(text: str) -> str | None:
            found = parse_memory_fields(labelled(text))
            if not found:
                return words_problem(text) or "no memory fields (malformed output)"
            absent = [label for label, name in MEMORY_LABELS.items() if name not in found]
            return f"memory fields missing: {', '.join(absent)}" if absent else None

        # Missing fields are asked again; if the last answer still lacks some, they are filled
        # from the session record below (listed in filled_in); an answer with none fails the step.
        completions = complete_checked(self.llm, messages, self._sampling_for(seed, self.memory_max_tokens),
                                       step="memory", check=missing,
                                       salvage=lambda text: bool(parse_memory_fields(labelled(text))))
        fields = parse_memory_fields(labelled(completions[-1].text))
        if not self.scaffold:
            # What the model extracted, and nothing else: a missing field stays missing.
            return ExtractedMemory(SessionMemory(session_index=context.session_index, **fields), completions)
        filled = {}
        closing = last_counselor_text(turns)
        client_last = last_client_text(turns)
        homework = _HOMEWORK.search(closing)
        fallbacks = {
            "session_goal": context.goal,
            "counseling_assignments": first_sentences(homework.group(1) if homework else closing, 2),
            "emotion_and_cognitive_state": first_sentences(client_last, 2),
            "summary": first_sentences(closing, 1),
        }
        for name, value in fallbacks.items():
            if not fields.get(name) and value:
                filled[name] = value
        memory = SessionMemory(session_index=context.session_index, **fields, **filled, filled_in=sorted(filled))
        return ExtractedMemory(memory, completions)

    def _sampling_for(self, seed: int, max_tokens: int | None = None) -> Sampling:
        sampling = self.sampling
        if max_tokens is not None:
            sampling = Sampling(max_tokens=max_tokens, temperature=sampling.temperature, stop=sampling.stop)
        return Sampling(**{**sampling.__dict__, "seed": seed})


_MARKUP = re.compile(r"[*#`_]+")
_GOAL_LABEL = re.compile(r"^[\s\-•>]*(?:(?:session|the)\s+)?goal\s*:\s*", re.IGNORECASE)


def goal_text(text: str) -> str:
    """The goal in a model's goal-planning reply: its first line with words once markdown (``*``, ``#``, ...),
    a list bullet and a "(Session) goal:" label are taken off ("" when no line has any: a bare label).
    The goal step checks the reply with it and records what it returns, so the two cannot disagree."""
    for line in text.split("\n"):
        goal = _GOAL_LABEL.sub("", _MARKUP.sub("", clean_utterance(line))).strip()
        if not words_problem(goal):
            return goal
    return ""


def scaffold_switch(value: bool | str) -> bool:
    """The ``scaffold`` option: on/off (YAML reads a bare on/off as true/false; the words are taken too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("on", "off"):
        return value.strip().lower() == "on"
    raise TypeError(f"option 'scaffold' must be on or off, got {value!r}")


# What a model writes for a field it has nothing for (a trailing period aside).
_EMPTY = {"", "none", "n/a", "na", "...", "-", "unknown"}


def _empty(value: str) -> bool:
    return value.lower().rstrip(".").strip() in _EMPTY


def parse_memory_fields(text: str) -> dict[str, str]:
    """Pick the labelled lines out of a model's memory extraction, tolerating markup, list numbers and order.

    A label is read on its own line only ("1. **Summary:** ..." or "- [Summary]: ..."); a label left
    empty takes the unlabelled lines right below it ("Summary:" then the summary), never the next
    labelled line. "None", "N/A" and the like are no value.
    """
    labels = "|".join(re.escape(label) for label in MEMORY_LABELS)
    # [ \t], not \s: a match never runs on into the next line.
    pattern = re.compile(rf"^[ \t]*(?:[-*+•][ \t]+)?(?:\d+[.)][ \t]*)?[ \t*#\-\[\]_]*({labels})[ \t*_\]:]*(.*)$",
                         re.IGNORECASE)
    by_lower = {label.lower(): name for label, name in MEMORY_LABELS.items()}
    fields: dict[str, str] = {}
    pending: tuple[str, list[str]] | None = None  # an empty label, and the lines below it so far

    def settle() -> None:
        if pending is not None:
            name, lines = pending
            value = " ".join(lines)
            if name not in fields and not _empty(value):
                fields[name] = value[:500]

    for line in text.splitlines():
        match = pattern.match(line)
        if match is None and pending is not None and line.strip():
            pending[1].append(line.strip().strip("*_").strip())
            continue
        settle()
        pending = None  # a label or a blank line ends what an empty label takes
        if match is None:
            continue
        name = by_lower[match.group(1).lower()]
        value = match.group(2).strip().strip("*_").strip()
        if name in fields:
            continue
        if not value:
            pending = (name, [])
        elif not _empty(value):
            fields[name] = value[:500]
    settle()
    return fields
