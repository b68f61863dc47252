"""TEST DOUBLE: a scripted, deterministic LiteLLM provider for fast tests (``testdouble/<script>``).

``testdouble/<script>`` answers instantly. It recognises which prompt template
it was given (counselor turn, client turn, goal planning, memory extraction)
and answers from the prompt's own content, so tests can check that the right
information reached the model. Options (questionnaire and appraisal items, judge ratings) it
answers from the prompt's words too, whether asked one item at a time (likelihood) or all
items of a set in one JSON request: a self-report from how the client feels in words (and, on
items about the counselor or how intense its feelings are, from its own verdict on the
conversation when its own last words state one: "you really understood me", "this did not
help"), an appraisal from its own warm and cold cue words. It is not a model of anything.
"""

from __future__ import annotations

import json
import re
import time

from ..spec import JSON_ONLY_SCRIPT, TEST_DOUBLE, TEST_DOUBLE_SCRIPTS
from .responses import ChatResponse, fill_model_response

# The scripts (``spec.TEST_DOUBLE_SCRIPTS``): "scripted" answers from the prompt's own content; "slow" answers
# like it after a short pause, so tests can interrupt a run mid-session; "poor-counselor" speaks as a
# counselor who ignores the client and hands out generic advice; "json-only" stands in for an API model:
# no log-probabilities, so options are chosen by JSON answers (``spec.JSON_ONLY_SCRIPT``).
_SLOW_SECONDS = 0.05


def _line_value(text: str, label: str) -> str:
    match = re.search(rf"^{re.escape(label)}\s*(.*)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else ""


def last_content(messages: list[dict], role: str) -> str:
    """The content of the last message from ``role``; "" when there is none."""
    for message in reversed(messages):
        if message["role"] == role:
            return message["content"]
    return ""


def _poor_counselor_turn(system: str, messages: list[dict]) -> str:
    if "Close the session" in system:
        return "stop worrying so much." if messages[-1]["role"] == "assistant" else "This week, try to stop worrying so much."
    return "You should just relax and think positive. Everyone gets stressed, you must not dwell on it."


def _counselor_turn(system: str, messages: list[dict]) -> str:
    name = re.search(r"in session \d+ with (.+?)\.", system)
    name = name.group(1) if name else "there"
    if "Close the session" in system:
        homework = "writing down one worrying thought each evening and one kinder answer to it."
        # Continue a prefilled "This week, try" like a local model does.
        return homework if messages[-1]["role"] == "assistant" else f"This week, try {homework}"
    said = last_content(messages, "user")
    if not said or said.startswith("(The session begins"):
        return f"Hello {name}, thank you for coming. What is on your mind today?"
    echo = said.split(".")[0][:80].strip()
    return f"It sounds like {echo.lower()}. That makes sense, {name}. Shall we look at it together?"


def _client_turn(system: str, messages: list[dict]) -> str:
    feeling = _line_value(system, "Right now you feel:").split(" You think:")[0].rstrip(".")
    reply = f"Honestly, {feeling[:1].lower() + feeling[1:]}." if feeling else "I am not sure."
    share = _line_value(system, "You feel safe enough to share:")
    if share:
        reply += f" {share}"
    if "push back" in system:
        reply = "Yes, but I am not sure that would work for me. " + reply
    return reply


def _goal(system: str) -> str:
    problem = _line_value(system, "Client intake:").partition("Presenting problem:")[2].strip()
    return f"Review last week and practise one coping step for this problem: {problem[:120]}"


def _memory(system: str) -> str:
    counselor = re.findall(r"^Counselor: (.*)$", system, flags=re.MULTILINE)
    client = re.findall(r"^Client: (.*)$", system, flags=re.MULTILINE)
    homework = next((line.split("This week,", 1)[1] for line in reversed(counselor) if "This week," in line), "")
    return "\n".join(
        [
            f"Emotion and cognitive state: {client[-1] if client else 'unclear'}",
            f"Counselor observations: the client spoke {len(client)} times.",
            f"Counseling assignments: {('This week,' + homework).strip() if homework else 'none'}",
            "Session goal: as planned.",
            f"Summary: a session of {len(counselor) + len(client)} turns.",
        ]
    )


def scripted_reply(messages: list[dict], script: str = "scripted") -> str:
    system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
    prompt = system or last_content(messages, "user")
    if "Write the counseling memory" in prompt:
        memory = _memory(prompt)
        prefill = messages[-1]["content"] if messages[-1]["role"] == "assistant" else ""
        # Continue a prefilled answer the way a local model does.
        return memory.removeprefix(prefill).lstrip() if prefill else memory
    if "planning session" in prompt:
        return _goal(prompt)
    if "talking with a counselor" in system:
        return _client_turn(system, messages)
    if script == "poor-counselor":
        return _poor_counselor_turn(system, messages)
    return _counselor_turn(system, messages)


def _judge_rating(text: str) -> float:
    """A transparent stand-in rating: empathy, follow-up and homework each earn a point."""
    transcript = text.partition("Rate the counselor on")[0]
    return 2.0 + ("It sounds like" in transcript) + ("Last time we agreed" in transcript) \
        - ("You should just" in transcript) + ("This week, try writing" in transcript)


# The double's own cue words for rating a counselor turn as the client (appraisal items). They differ
# from the rules appraiser's lexicon on purpose, so a test can tell which appraiser moved the state.
_WARM = re.compile(r"\b(sounds like|makes sense|together|glad|with you|take your time)\b", re.IGNORECASE)
_COLD = re.compile(r"\b(you should|you must|whatever|calm down|get over)\b", re.IGNORECASE)
_BANDS = ("very low", "low", "moderate", "high", "very high")  # agents.client.feelings.BANDS
_PANAS_POSITIVE = frozenset("interested excited strong enthusiastic proud alert inspired determined attentive active".split())


def _statement(text: str) -> str:
    found = re.findall(r'^Statement: "(.*)"$', text, flags=re.MULTILINE)
    return found[-1] if found else ""


def _appraisal_rating(text: str) -> float | None:
    """How the double, as the client, rates the counselor's turn on one item (1..5)."""
    said = re.search(r'^The counselor has just said: "(.*)"$', text, flags=re.MULTILINE)
    if not said or said.group(1) == "N/A":
        return None
    warm, cold = len(_WARM.findall(said.group(1))), len(_COLD.findall(said.group(1)))
    if "pushed or judged" in _statement(text):
        return min(5.0, 1.0 + 2 * cold)
    return min(5.0, max(1.0, 3.0 + warm - cold))


# The client's own verdict on the conversation, when its own words (its "You:" lines) state one.
_VERDICT_UP = re.compile(r"\b(understood me|you helped|helped me|i feel (?:so )?(?:much )?(?:better|calmer))\b",
                         re.IGNORECASE)
_VERDICT_DOWN = re.compile(r"\b(not helpful|did not help|didn't help|not listening|did not understand me|"
                           r"didn't understand me|i feel worse)\b", re.IGNORECASE)


def _own_verdict(text: str) -> int:
    """Praise minus complaints in the client's own lines of the prompt's dialogue."""
    own = " ".join(re.findall(r"^You: (.*)$", text, flags=re.MULTILINE))
    return len(_VERDICT_UP.findall(own)) - len(_VERDICT_DOWN.findall(own))


def _band(text: str, quantity: str) -> float | None:
    match = re.search(rf"your {re.escape(quantity)} is ({'|'.join(sorted(_BANDS, key=len, reverse=True))})\b", text)
    return _BANDS.index(match.group(1)) / (len(_BANDS) - 1) if match else None


def _self_report(text: str) -> float | None:
    """The double's answer to a questionnaire item: the band of what the item is about, on the item's scale."""
    item = _statement(text).lower()
    about_counselor = "WAI-SR" in text or (item.startswith(("the supporter", "my counselor")) and "intense" not in item)
    if about_counselor:
        share = _band(text, "trust in the counselor")
    elif "PANAS" in text and item in _PANAS_POSITIVE:
        share = _band(text, "mood (interest and energy)")
    else:
        share = _band(text, "distress")
    if share is None:
        return None  # the content-free calibration prompt
    if about_counselor or "intense" in item:
        verdict = _own_verdict(text)
        share = min(1.0, max(0.0, share + (0.25 if about_counselor else -0.25) * verdict))
    values = [int(v) for v in re.findall(r"(\d+) = ", text.partition("Answer with one number:")[2].splitlines()[0])]
    low, high = (min(values), max(values)) if values else (0, 3)
    return low + share * (high - low)


def _target(text: str) -> float | None:
    """The answer the double leans to; None for a content-free prompt ("N/A"), where it has no preference."""
    if "Transcript of counseling session" in text and "\nN/A\n" in text:
        return None
    if "Rate the counselor on" in text:
        return _judge_rating(text)
    if "The counselor has just said:" in text:
        return _appraisal_rating(text)
    if "questionnaire (" in text and "How you feel now:" in text:
        return _self_report(text)
    # A bare test prompt that names the answer it wants (no agent's prompt carries a level).
    match = re.search(r"Your level: ([0-9.]+)", text)
    return float(match.group(1)) if match else None


ITEMS_INSTRUCTION = "Reply with JSON only: an object that gives each numbered item its answer, one of: "


def _closest(choices: list[str], target: float) -> str:
    return min(choices, key=lambda c: abs(float(c) - target) if c.replace(".", "").isdigit() else 99)


def scripted_items_answer(text: str) -> str:
    """A JSON object answering each numbered item of a prompt (``choice_scoring.JsonItems``) as the double
    answers the same item asked alone: the preamble and the item's own text (``_target``)."""
    options = text.split(ITEMS_INSTRUCTION, 1)[1].split(". Like this", 1)[0]
    choices = [c.strip() for c in options.split(",")]
    listed = re.search(r"^\d+\. ", text, flags=re.MULTILINE)
    preamble = text[:listed.start()].rstrip("\n") if listed else ""
    blocks = re.findall(r"^(\d+)\. (.*(?:\n   .*)*)", text, flags=re.MULTILINE)
    answers = {}
    for number, block in blocks:
        item = block.replace("\n   ", "\n")
        target = _target(f"{preamble}\n{item}")
        best = _closest(choices, 2.0 if target is None else target)
        answers[number] = int(best) if best.isdigit() else best
    return json.dumps(answers)


def scripted_json_answer(messages: list[dict]) -> str:
    """A JSON answer (``{"answer": ...}``, or one per numbered item) to a prompt that lists its options."""
    text = "\n".join(m["content"] for m in messages)
    if ITEMS_INSTRUCTION in text:
        return scripted_items_answer(text)
    options = re.search(r"answer is one of: ([^.]+)\.", text)
    choices = [c.strip() for c in options.group(1).split(",")] if options else ["1"]
    target = _target(text)
    return f'{{"answer": "{_closest(choices, 2.0 if target is None else target)}"}}'


def scripted_logprobs(messages: list[dict], top: int) -> list[tuple[str, float]]:
    """Scores for answer digits: the closer to the double's answer (``_target``), the likelier."""
    target = _target("\n".join(m["content"] for m in messages))
    if target is None:
        return [(str(d), -1.791759) for d in range(0, 6)][:top]  # uniform: log(1/6)
    scored = sorted(((str(d), -abs(target - d)) for d in range(0, 6)), key=lambda t: (-t[1], t[0]))
    return scored[:top]


def asks_for_json(messages: list[dict]) -> bool:
    return "Reply with JSON only" in last_content(messages, "user")


def scripted_answer(script: str, messages: list[dict], params: dict) -> ChatResponse:
    """The double's answer to one request (``params``: the request's sampling and scoring fields)."""
    if script not in TEST_DOUBLE_SCRIPTS:
        raise ValueError(f"unknown test double script '{script}'")
    if params.get("logprobs") and script != JSON_ONLY_SCRIPT:
        return ChatResponse.of_logprobs(scripted_logprobs(messages, int(params.get("top_logprobs") or 20)),
                                        f"{TEST_DOUBLE}/{script}", prompt_tokens=1)
    text = scripted_json_answer(messages) if asks_for_json(messages) else scripted_reply(messages, script)
    if script == "slow":
        time.sleep(_SLOW_SECONDS)
    max_tokens = params.get("max_tokens")
    words = text.split()
    if max_tokens and len(words) > int(max_tokens):
        text = " ".join(words[: int(max_tokens)])
    prompt_tokens = sum(len(m["content"].split()) for m in messages)
    return ChatResponse.of_text(text, f"{TEST_DOUBLE}/{script}", prompt_tokens, len(text.split()))


def make_handler():
    """LiteLLM's handler for ``testdouble/<script>``: the same answers, through LiteLLM."""
    # lazy: litellm takes seconds to import; the handler subclasses its CustomLLM
    from litellm import CustomLLM

    class ScriptedTestDouble(CustomLLM):
        """TEST DOUBLE provider: deterministic scripted replies, no model."""

        def completion(self, model, messages, model_response, optional_params, *args, **kwargs):
            # LiteLLM strips the "testdouble/" prefix: ``model`` is the script.
            return fill_model_response(model_response, scripted_answer(model, messages, optional_params))

        async def acompletion(self, *args, **kwargs):
            return self.completion(*args, **kwargs)

    return ScriptedTestDouble()
