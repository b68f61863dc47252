"""Text to and from the agents' models: prompt templates in, utterances out.

Prompt templates live as text files beside the agent that uses them (``render``); what a small model
writes back is cleaned defensively before anyone reads it (``clean_utterance``, ``first_sentences``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def _template(path: Path):
    from langchain_core.prompts import PromptTemplate  # lazy: langchain_core takes ~0.6 s to import

    return PromptTemplate.from_file(path, encoding="utf-8")


def render(path: Path, **values: object) -> str:
    """Fill the template file at ``path`` (``{name}`` placeholders) with ``values``."""
    return _template(path).format(**{k: str(v) for k, v in values.items()}).strip()


# --- small-model output -----------------------------------------------------------------------------

_ROLE_PREFIX = re.compile(r"^\s*(\*\*)?(counselor|consultant|therapist|client|user|assistant|you)(\*\*)?\s*:\s*", re.IGNORECASE)
# Where a model that keeps going starts writing the other speaker's part.
_OTHER_SPEAKER = re.compile(r"\n\s*(\*\*)?(counselor|consultant|therapist|client|user|assistant)(\*\*)?\s*:", re.IGNORECASE)


def clean_utterance(text: str, max_chars: int = 600) -> str:
    """One speaker's turn: no role prefix, no continuation as the other speaker, bounded length."""
    text = _OTHER_SPEAKER.split(text, maxsplit=1)[0]
    text = _ROLE_PREFIX.sub("", text).strip()
    if text.count('"') % 2 == 1:
        # An unmatched quote means the model slipped into narration ('... today." He smiled').
        before, _, after = text.partition('"')
        text = before if len(before) >= 20 else after.partition('"')[0]
    text = text.strip().strip('"').strip()
    text = re.sub(r"\s+", " ", text)
    if len(text) > max_chars:
        cut = text[:max_chars]
        end = max(cut.rfind(". "), cut.rfind("? "), cut.rfind("! "))
        text = cut[: end + 1] if end > max_chars // 2 else cut
    return text


def first_sentences(text: str, count: int = 1) -> str:
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    return " ".join(parts[:count]).strip()
