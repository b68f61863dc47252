"""Synthetic conversations in the ESConv format with a planted truth (never real ESConv data).

Each supporter turn is drawn from a ladder of five messages whose cue strength a given appraiser
reads; the help-seeker's feedback on it is the ladder level (1..5). The survey's empathy and
relevance are the conversation's mean level, its final intensity falls by how well it went.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# Cues the rules appraiser reads: empathic phrases up, directive phrases down.
RULES_LADDER = {
    5: "It sounds like that is hard, and it makes sense.",
    4: "I hear you.",
    3: "Okay, go on.",
    2: "Just try harder.",
    1: "You should just stop, you must never complain.",
}
# Cues the scripted test double reads as the client (agents/llm/providers/scripted.py: _WARM, _COLD).
DOUBLE_LADDER = {
    5: "I am glad you told me, I am with you, take your time, we can do this together.",
    4: "I am glad you told me.",
    3: "Okay, go on.",
    2: "Whatever, that happens.",
    1: "Whatever. You should get over it and calm down.",
}
# The seeker's words share none with the ladders, so relevance stays the same for every turn.
SEEKER = ["My manager ignored my proposal again.", "Nobody answered my messages yesterday.",
          "I keep replaying the argument with my brother.", "Rent went up and I cannot afford it.",
          "My exam results came back worse than expected.", "I feel alone in this city."]
EMOTIONS = ["anxiety", "sadness", "anger", "depression"]
PROBLEMS = ["job crisis", "problems with friends", "ongoing depression", "academic pressure"]


def conversation(ladder: dict[int, str], levels: list[int], rng: random.Random, spelling: int) -> dict:
    seeker, supporter = (("seeker", "supporter"), ("speaker", "listener"))[spelling]
    dialog = [{"speaker": supporter, "annotation": {"strategy": "Question"}, "content": "Hi, what brings you here?"},
              {"speaker": seeker, "annotation": {}, "content": rng.choice(SEEKER)}]
    for level in levels:
        # Supporters often send two messages in a row: the rated turn is both together.
        dialog.append({"speaker": supporter, "annotation": {"strategy": "Other"}, "content": ladder[level]})
        if rng.random() < 0.5:
            dialog.append({"speaker": supporter, "annotation": {"strategy": "Other"}, "content": "Hmm."})
        dialog.append({"speaker": seeker, "annotation": {"feedback": str(level)}, "content": rng.choice(SEEKER)})
    mean = round(sum(levels) / len(levels))
    initial = rng.randint(3, 5)
    return {
        "experience_type": "Current Experience",
        "emotion_type": rng.choice(EMOTIONS),
        "problem_type": rng.choice(PROBLEMS),
        "situation": "Things have been hard lately.",
        "survey_score": {"seeker": {"initial_emotion_intensity": str(initial), "empathy": str(mean),
                                    "relevance": str(mean), "final_emotion_intensity": str(max(1, initial - (mean - 2)))}},
        "dialog": dialog,
    }


def write_synthetic(path: Path, ladder: dict[int, str], conversations: int = 12, turns: int = 5, seed: int = 0,
                    extra: list | None = None) -> Path:
    """``conversations`` synthetic conversations, both speaker spellings alternating, and ``extra`` entries."""
    rng = random.Random(seed)
    data = [conversation(ladder, [rng.randint(1, 5) for _ in range(turns)], rng, number % 2)
            for number in range(conversations)]
    path.write_text(json.dumps(data + list(extra or []), indent=1), encoding="utf-8")
    return path


# Whole conversations of one quality, rated by the seeker as that quality. The scripted test double's
# judge reads "It sounds like" as empathic and "You should just" as the opposite
# (agents/llm/providers/scripted.py, _judge_rating), so its ratings follow the planted level.
SESSION_LADDER = {
    5: "It sounds like that is hard, and it makes sense to feel this way.",
    4: "It sounds like a lot. I hear you.",
    3: "Okay, go on.",
    2: "You should just try harder.",
    1: "You should just stop complaining, you must get over it.",
}


def judged_conversation(level: int, rng: random.Random, turns: int) -> dict:
    dialog = [{"speaker": "supporter", "annotation": {}, "content": "Hi, what brings you here?"},
              {"speaker": "seeker", "annotation": {}, "content": rng.choice(SEEKER)}]
    for _ in range(turns):
        dialog.append({"speaker": "supporter", "annotation": {}, "content": SESSION_LADDER[level]})
        dialog.append({"speaker": "seeker", "annotation": {"feedback": str(level)}, "content": rng.choice(SEEKER)})
    # The seeker's last words carry the judge double's cues the other way round: a judge reading past the
    # supporter's last turn would rate these conversations nearly all alike.
    closing = "You should just know I am still upset." if level >= 4 else "It sounds like you tried. Thank you."
    dialog.append({"speaker": "seeker", "annotation": {}, "content": closing if level != 3 else "Okay."})
    return {"emotion_type": rng.choice(EMOTIONS), "problem_type": rng.choice(PROBLEMS),
            "situation": "Things have been hard lately.",
            "survey_score": {"seeker": {"initial_emotion_intensity": "4", "empathy": str(level),
                                        "relevance": str(level), "final_emotion_intensity": str(max(1, 6 - level))}},
            "dialog": dialog}


def write_judged(path: Path, conversations: int = 20, turns: int = 3, seed: int = 0) -> Path:
    """Conversations whose seeker ratings (empathy, relevance) are the level of the supporter's every turn."""
    rng = random.Random(seed)
    data = [judged_conversation(rng.randint(1, 5), rng, turns) for _ in range(conversations)]
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path


# The help-seeker's own verdict on the supporter, in words the scripted test double reads as its own
# (agents/llm/providers/scripted.py, _VERDICT_UP / _VERDICT_DOWN): the leak a harness must not feed on.
VERDICT = {
    5: "You really understood me and it helped me.",
    4: "You understood me.",
    3: "Okay.",
    2: "That did not help.",
    1: "You did not understand me and it did not help.",
}


def verdict_conversation(level: int, rng: random.Random, turns: int, verdict_last: bool) -> dict:
    """Supporter turns of random quality (unrelated to ``level``); the seeker rates the conversation ``level``
    and says so in words: in a seeker turn before the supporter's last (``verdict_last`` False), or only in
    its closing words after it (True)."""
    dialog = [{"speaker": "supporter", "annotation": {}, "content": "Hi, what brings you here?"},
              {"speaker": "seeker", "annotation": {}, "content": rng.choice(SEEKER)}]
    for number in range(turns):
        dialog.append({"speaker": "supporter", "annotation": {}, "content": RULES_LADDER[rng.randint(1, 5)]})
        said = VERDICT[level] if (not verdict_last and number == turns - 2) else rng.choice(SEEKER)
        dialog.append({"speaker": "seeker", "annotation": {"feedback": str(level)}, "content": said})
    if verdict_last:
        dialog.append({"speaker": "seeker", "annotation": {}, "content": VERDICT[level]})
    return {"emotion_type": rng.choice(EMOTIONS), "problem_type": rng.choice(PROBLEMS),
            "situation": "Things have been hard lately.",
            "survey_score": {"seeker": {"initial_emotion_intensity": "4", "empathy": str(level),
                                        "relevance": str(level), "final_emotion_intensity": str(max(1, 6 - level))}},
            "dialog": dialog}


def write_verdicts(path: Path, conversations: int = 40, turns: int = 3, seed: int = 0,
                   verdict_last: bool = False) -> Path:
    """Conversations whose seekers state their rating in words (see ``verdict_conversation``)."""
    rng = random.Random(seed)
    data = [verdict_conversation(rng.randint(1, 5), rng, turns, verdict_last) for _ in range(conversations)]
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return path
