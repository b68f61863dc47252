"""Rendering turns as text, shared by prompts, memory chunks and exports."""

from __future__ import annotations

SPEAKER_LABELS = {"counselor": "Counselor", "client": "Client"}


def format_turns(turns: list[dict] | tuple[dict, ...]) -> str:
    return "\n".join(f"{SPEAKER_LABELS[t['speaker']]}: {t['text']}" for t in turns)


def exchange_chunks(turns: list[dict]) -> list[str]:
    """The transcript cut into client-and-counselor exchanges, for retrieval."""
    chunks: list[str] = []
    current: list[dict] = []
    for turn in turns:
        current.append(turn)
        if turn["speaker"] == "counselor" and any(t["speaker"] == "client" for t in current):
            chunks.append(format_turns(current))
            current = []
    if current:
        chunks.append(format_turns(current))
    return chunks
