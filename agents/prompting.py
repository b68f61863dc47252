"""Prompt templates live as text files beside the agent that uses them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=None)
def _template(path: Path):
    from langchain_core.prompts import PromptTemplate  # lazy: langchain_core takes ~0.6 s to import

    return PromptTemplate.from_file(path, encoding="utf-8")


def render(path: Path, **values: object) -> str:
    """Fill the template file at ``path`` (``{name}`` placeholders) with ``values``."""
    return _template(path).format(**{k: str(v) for k, v in values.items()}).strip()
