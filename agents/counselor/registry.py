"""Choosing a counselor by name or by import path ``package.module:Class``."""

from __future__ import annotations

import importlib

from muspsy_sim.memory.base import DEFAULT_TOP_K

from ..llm import Sampling
from .base import PromptRenderer
from .baselines import FullHistoryCounselor, NoMemoryCounselor
from .muspsy import MusPsyCounselor

BUILTIN_COUNSELORS = {cls.name: cls for cls in (MusPsyCounselor, NoMemoryCounselor, FullHistoryCounselor)}


class UnknownCounselor(ValueError):
    pass


def resolve_counselor_class(name: str) -> type:
    if name in BUILTIN_COUNSELORS:
        return BUILTIN_COUNSELORS[name]
    module_name, colon, class_name = name.partition(":")
    if not colon or not module_name or not class_name:
        raise UnknownCounselor(
            f"unknown counselor '{name}' (built in: {', '.join(BUILTIN_COUNSELORS)}; or package.module:Class)"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UnknownCounselor(f"cannot import '{module_name}' for counselor '{name}': {error}") from None
    cls = getattr(module, class_name, None)
    missing = [m for m in ("plan_goal", "respond", "extract_memory", "describe") if not callable(getattr(cls, m, None))]
    if cls is None or missing:
        raise UnknownCounselor(f"'{name}' is not a counselor class (missing: {', '.join(missing) or 'class'})")
    return cls


def build_counselor(name: str, *, llm, sampling, store=None, top_k: int = DEFAULT_TOP_K,
                    options: dict | None = None):
    cls = resolve_counselor_class(name)
    try:
        return cls(llm=llm, sampling=sampling, store=store, top_k=top_k, **(options or {}))
    except TypeError as error:
        raise UnknownCounselor(f"counselor '{name}' does not accept these options: {error}") from None


def build_prompt_renderer(name: str, *, top_k: int = DEFAULT_TOP_K, options: dict | None = None) -> PromptRenderer:
    """The counselor ``name`` (built in or ``package.module:Class``) built without a model or a memory
    store, to render the prompts it sends its model (what the training export needs)."""
    counselor = build_counselor(name, llm=None, sampling=Sampling(), store=None, top_k=top_k, options=options)
    if not isinstance(counselor, PromptRenderer):
        raise UnknownCounselor(f"counselor '{name}' does not render its prompts "
                               "(goal_prompt, memory_prompt, recalled_text, counseling_messages)")
    return counselor
