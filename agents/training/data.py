"""Reading counselor-turn training data into prompt/completion examples.

One JSONL record per counselor turn to learn (or per session, with weights), in either format:

* OpenAI chat: ``{"messages": [{"role": "system"|"user"|"assistant", "content": ...}, ...]}``;
  the LAST message is the target (an assistant turn), earlier messages are context. An assistant
  message may carry ``weight`` (0 or 1), as OpenAI's fine-tuning reads it: in a record where any
  message carries one, every assistant message without ``weight: 0`` is a target (OpenAI's
  default), each learnt once with the messages before it as its prompt; this is how
  ``export`` marks what to learn (its per-session form has several targets, its per-turn form
  one). A record without any weight is read as before: its last message alone.
* MusPsy: ``{"instruction", "input", "output", "history": [[client, counselor], ...]}``;
  instruction -> system (or user, when it stands alone as in tasks 1 and 2), history pairs ->
  user/assistant, input -> user, output -> target.
* ShareGPT: ``{"conversations": [{"from": "system"|"human"|"gpt", "value": ...}, ...]}``,
  as ``run_sim.py export --format sharegpt`` writes it; the last turn is the target, or, with
  ``weight`` marks on the ``gpt`` turns, every turn marked 1 (as for OpenAI chat).

Every example becomes ``{"prompt": [...context...], "completion": [target]}``, the
conversational prompt/completion format for which TRL computes the loss on the
completion only.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from muspsy_sim.simulation.core.errors import InputError

ROLES = ("system", "user", "assistant")
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


@dataclass
class TrainingData:
    path: Path
    examples: list[dict]  # {"prompt": [...], "completion": [{"role": "assistant", ...}]}
    sha256: str
    formats: dict[str, int] = field(default_factory=dict)  # "messages" / "muspsy" -> records
    records: int = 0  # JSONL records read (a weighted record can give several examples, or none)
    nothing_to_learn: int = 0  # records whose every assistant message has weight 0

    def describe(self) -> dict:
        described = {"path": str(self.path.resolve()), "records": self.records or len(self.examples),
                     "sha256": self.sha256, "formats": self.formats}
        if self.records and self.records != len(self.examples):
            described["examples"] = len(self.examples)
        if self.nothing_to_learn:
            described["records_with_nothing_to_learn"] = self.nothing_to_learn
        return described


def load_training_data(path: Path) -> TrainingData:
    """Parse and check a JSONL file; raise ``InputError`` naming the line of the first problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "", "training data file not found" if not path.exists() else "not a file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(path, "", f"not UTF-8 text ({error.reason} at byte {error.start})") from None
    examples: list[dict] = []
    records = nothing = 0
    formats = {"messages": 0, "muspsy": 0, "sharegpt": 0}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise InputError(path, where, f"not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(record, dict):
            raise InputError(path, where, "expected a JSON object")
        weights: list[int | None] = []
        if "messages" in record:
            messages, weights = _checked_messages(record["messages"], path, where)
            formats["messages"] += 1
        elif "conversations" in record:
            messages, weights = _sharegpt_messages(record["conversations"], path, where)
            formats["sharegpt"] += 1
        elif "instruction" in record or "output" in record:
            messages = _muspsy_messages(record, path, where)
            formats["muspsy"] += 1
        else:
            raise InputError(path, where, "needs 'messages' (chat format), 'instruction'/'output' (MusPsy format) "
                                          "or 'conversations' (ShareGPT format)")
        records += 1
        if any(w is not None for w in weights):
            learnt = _weighted(messages, weights, path, where)
            nothing += not learnt
            examples.extend(learnt)
        else:
            examples.append(_split(messages, path, where))
    if not examples:
        raise InputError(path, "", "no training records (the file is empty)" if not records else
                         "no message to learn: every assistant message has weight 0")
    return TrainingData(path, examples, hashlib.sha256(raw).hexdigest(), {k: v for k, v in formats.items() if v},
                        records, nothing)


def _weight(value, path: Path, where: str, role: str) -> int | None:
    """A message's ``weight``: 0 or 1 on an assistant message (None when absent)."""
    if value is None:
        return None
    if role != "assistant":
        raise InputError(path, where, "weight is only read on assistant messages")
    if isinstance(value, bool) or value not in (0, 1):
        raise InputError(path, where, f"weight must be 0 or 1, got {value!r}")
    return int(value)


def _weighted(messages: list[dict], weights: list[int | None], path: Path, where: str) -> list[dict]:
    """One example per assistant message to learn (weight 1, or none given: OpenAI's default), the messages
    before it as its prompt."""
    learnt = []
    for index, (message, weight) in enumerate(zip(messages, weights)):
        if message["role"] == "assistant" and weight != 0:
            learnt.append(_split(messages[:index + 1], path, f"{where}: message {index}"))
    return learnt


def _checked_messages(messages, path: Path, where: str) -> tuple[list[dict], list[int | None]]:
    if not isinstance(messages, list) or not messages:
        raise InputError(path, where, "'messages' must be a non-empty list")
    checked, weights = [], []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InputError(path, f"{where}: messages[{index}]", "expected an object with 'role' and 'content'")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise InputError(path, f"{where}: messages[{index}].role",
                             f"expected one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise InputError(path, f"{where}: messages[{index}].content", "must be a string")
        checked.append({"role": role, "content": content})
        weights.append(_weight(message.get("weight"), path, f"{where}: messages[{index}].weight", role))
    return checked, weights


def _sharegpt_messages(conversations, path: Path, where: str) -> tuple[list[dict], list[int | None]]:
    if not isinstance(conversations, list) or not conversations:
        raise InputError(path, where, "'conversations' must be a non-empty list")
    messages, weights = [], []
    for index, turn in enumerate(conversations):
        if not isinstance(turn, dict) or turn.get("from") not in SHAREGPT_ROLES or not isinstance(turn.get("value"), str):
            raise InputError(path, f"{where}: conversations[{index}]",
                             "expected {'from': 'system'|'human'|'gpt', 'value': text}")
        role = SHAREGPT_ROLES[turn["from"]]
        messages.append({"role": role, "content": turn["value"]})
        weights.append(_weight(turn.get("weight"), path, f"{where}: conversations[{index}].weight", role))
    return messages, weights


def _muspsy_messages(record: dict, path: Path, where: str) -> list[dict]:
    def text(name: str) -> str:
        value = record.get(name) or ""
        if not isinstance(value, str):
            raise InputError(path, f"{where}: {name}", "must be a string")
        return value

    messages = []
    history = record.get("history") or []
    if text("instruction").strip():
        # A lone instruction (tasks 1 and 2) is the user's request at inference; with a
        # dialogue (task 3) it is the system prompt.
        alone = not history and not text("input").strip()
        messages.append({"role": "user" if alone else "system", "content": text("instruction")})
    if not isinstance(history, list):
        raise InputError(path, f"{where}: history", "must be a list of [client, counselor] pairs")
    for index, pair in enumerate(history):
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
            raise InputError(path, f"{where}: history[{index}]", "must be a [client, counselor] pair of strings")
        messages += [{"role": "user", "content": pair[0]}, {"role": "assistant", "content": pair[1]}]
    if text("input").strip():
        messages.append({"role": "user", "content": text("input")})
    if not text("output").strip():
        raise InputError(path, f"{where}: output", "the counselor turn to learn is missing or empty")
    messages.append({"role": "assistant", "content": text("output")})
    return messages


def _split(messages: list[dict], path: Path, where: str) -> dict:
    *prompt, target = messages
    if target["role"] != "assistant":
        raise InputError(path, where, f"the last message must be the assistant (counselor) turn to learn, "
                                      f"got role '{target['role']}'")
    if not target["content"].strip():
        raise InputError(path, where, "the last message (the counselor turn to learn) is empty")
    if not prompt:
        # An empty prompt renders differently alone and before the target with
        # chat templates that add a default system prompt, so it cannot be masked.
        raise InputError(path, where, "the target needs at least one message before it (e.g. the system prompt)")
    return {"prompt": prompt, "completion": [target]}


def chat_length(tokenizer, messages: list[dict], *, add_generation_prompt: bool = False) -> int:
    encoded = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            add_generation_prompt=add_generation_prompt)
    return len(encoded["input_ids"])


@dataclass
class FitReport:
    trimmed: int = 0  # records whose oldest context messages were dropped
    truncated: int = 0  # records still too long: the end of the target is cut
    dropped: int = 0  # records whose remaining prompt alone fills max_length: no target token left

    def describe(self) -> dict:
        return {"trimmed_context": self.trimmed, "truncated_target": self.truncated, "dropped": self.dropped}


def fit_to_length(examples: list[dict], tokenizer, max_length: int) -> tuple[list[dict], FitReport]:
    """Drop the oldest context messages (never the system prompt) until each example fits ``max_length``.

    TRL truncates from the end, which would cut the target; keeping the most
    recent context instead matches what a counselor sees at inference.
    """
    fitted, report = [], FitReport()
    for example in examples:
        prompt, completion = list(example["prompt"]), example["completion"]
        head = 0
        while head < len(prompt) and prompt[head]["role"] == "system":
            head += 1
        trimmed = False
        # Keep the system prompt and at least the latest context message; drop whole
        # exchanges so that the context still opens with a client (user) message.
        while chat_length(tokenizer, prompt + completion) > max_length and len(prompt) > head + 1:
            del prompt[head]
            while len(prompt) > head + 1 and prompt[head]["role"] == "assistant":
                del prompt[head]
            trimmed = True
        report.trimmed += trimmed
        if chat_length(tokenizer, prompt + completion) > max_length:
            if chat_length(tokenizer, prompt, add_generation_prompt=True) >= max_length:
                report.dropped += 1
                continue
            report.truncated += 1
        fitted.append({"prompt": prompt, "completion": completion})
    return fitted, report
