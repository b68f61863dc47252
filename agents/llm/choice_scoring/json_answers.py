"""Choosing by a validated JSON answer: for models that give no log-probabilities (or when asked to).

- ``JsonAnswer``: one choice, ``{"answer": ...}``, asked again when invalid; after the re-asks, the
  middle option, marked "fallback".
- ``JsonItems``: every item of an ``ItemSet`` in one request, ``{"1": ..., "2": ...}``, with a JSON
  schema of exactly those keys and options (servers that enforce schemas, such as llama.cpp's and
  vLLM's, can only answer validly); without one, the loose forms small models write (unquoted keys,
  single quotes) are read too. Only the items that came back missing or invalid are asked
  again; an item still without an answer after the re-asks gets the middle option, marked "fallback".
"""

from __future__ import annotations

import json
import math
import re

from ..interface import ChoiceScores, Completion, ItemScores, ItemSet, Message, Sampling
from ..output_checks import reask_sampling, rejected
from .common import STRUCTURED_RETRIES, Send, middle_fallback

_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)
# One "key": value entry of a JSON object, read even from an answer cut off in transit, and in the loose
# forms small models write without a schema held to: unquoted keys ({1: 3}; only right after "{" or ",", so a
# time in a value is no key) and single quotes ({'1': '3'}).
_ENTRY = re.compile(r"""(?:(["'])(\d+)\1|[{,]\s*(\d+))\s*:\s*(["']?)([^"',}\s]+)\4""")
TOKENS_PER_ITEM = 8  # `"12": 3, ` is 7 tokens or fewer with the tokenizers tried


class JsonAnswer:
    def score(self, send: Send, messages: list[Message], choices: list[str], *, seed: int | None,
              baseline: list[Message] | None, output_retries: int) -> ChoiceScores:
        instruction = (
            f'Reply with JSON only, exactly like {{"answer": "{choices[0]}"}}, '
            f"where answer is one of: {', '.join(choices)}."
        )
        asked = [*messages, {"role": "user", "content": instruction}]
        completions = []
        for attempt in range(max(STRUCTURED_RETRIES, output_retries + 1)):
            completion, _ = send(
                asked, reask_sampling(Sampling(max_tokens=24, temperature=0.0, seed=seed), attempt),
                response_format={"type": "json_object"},
            )
            answer = _json_answer(completion.text)
            if answer in choices and not completion.cut_off:
                completions.append(completion)
                scores = {c: 0.0 if c == answer else -math.inf for c in choices}
                return ChoiceScores(answer, scores, "structured", tuple(completions))
            completions.append(rejected(completion, "no valid JSON answer"))
        return middle_fallback(choices, tuple(completions))


class JsonItems:
    def score_items(self, send: Send, items: ItemSet, *, seed: int | None, output_retries: int) -> ItemScores:
        numbers = list(range(1, len(items.items) + 1))
        answers: dict[int, str] = {}
        completions: list[Completion] = []
        for attempt in range(max(STRUCTURED_RETRIES, output_retries + 1)):
            asked = [n for n in numbers if n not in answers]
            if not asked:
                break
            completion, _ = send(
                [{"role": "user", "content": items_prompt(items, asked)}],
                reask_sampling(Sampling(max_tokens=TOKENS_PER_ITEM * len(asked) + 8, temperature=0.0, seed=seed),
                               attempt),
                response_format=answers_schema(asked, items.choices),
            )
            found = read_answers(completion.text, asked, items.choices)
            answers.update(found)
            missing = len(asked) - len(found)
            completions.append(rejected(completion, f"{missing} of {len(asked)} items without a valid answer")
                               if missing else completion)
        scored = tuple(
            ChoiceScores(answers[n], {c: 0.0 if c == answers[n] else -math.inf for c in items.choices}, "structured")
            if n in answers else middle_fallback(items.choices)
            for n in numbers
        )
        return ItemScores(scored, tuple(completions))


SCHEMA_PROBE = [{"role": "user", "content": "Reply with one word: hello."}]


def enforces_schema(send: Send) -> tuple[bool, Completion]:
    """Whether the server holds its answers to a JSON schema (``response_format``): asked for a word, a
    server that enforces the schema can still only answer ``{"1": 7}``."""
    completion, _ = send(SCHEMA_PROBE, Sampling(max_tokens=8, temperature=0.0, seed=0),
                         response_format=answers_schema([1], ("7",)))
    return read_answers(completion.text, [1], ("7",)) == {1: "7"}, completion


def items_prompt(items: ItemSet, numbers: list[int]) -> str:
    """The preamble, the asked items numbered (their own numbers: a re-ask keeps them), and the JSON instruction."""
    listed = "\n".join(f"{n}. " + items.items[n - 1].replace("\n", "\n   ") for n in numbers)
    # The example shows the shape, not a value: a small model copies an example's values into every answer.
    return (f"{items.preamble}\n{listed}\n"
            f"Reply with JSON only: an object that gives each numbered item its answer, one of: "
            f"{', '.join(items.choices)}. Like this: {{\"{numbers[0]}\": <answer>, ...}}")


def answers_schema(numbers: list[int], choices: tuple[str, ...]) -> dict:
    """``response_format`` for exactly these items' answers (OpenAI's json_schema; llama.cpp and vLLM enforce it)."""
    values = [_json_value(c) for c in choices]
    kind = {"type": "integer"} if all(isinstance(v, int) for v in values) else {"type": "string"}
    schema = {"type": "object", "properties": {str(n): {**kind, "enum": values} for n in numbers},
              "required": [str(n) for n in numbers], "additionalProperties": False}
    return {"type": "json_schema", "json_schema": {"name": "answers", "strict": True, "schema": schema}}


def read_answers(text: str, numbers: list[int], choices: tuple[str, ...]) -> dict[int, str]:
    """The valid answers to the asked items in ``text`` (entries of other items, or not options, are ignored)."""
    found: dict[int, str] = {}
    for _, quoted, bare, _, value in _ENTRY.findall(text):
        number = int(quoted or bare)
        if number in numbers and value in choices and number not in found:
            found[number] = value
    return found


def _json_value(choice: str) -> int | str:
    return int(choice) if re.fullmatch(r"-?\d+", choice) else choice


def _json_answer(text: str) -> str | None:
    match = _JSON_OBJECT.search(text)
    if not match:
        return None
    try:
        value = json.loads(match.group(0)).get("answer")
    except (ValueError, AttributeError):
        return None
    return str(value).strip() if value is not None else None
