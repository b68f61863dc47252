"""Stable per-step seeds, so a run is reproducible whatever order courses run in."""

from __future__ import annotations

import hashlib
import random


def derive_seed(base: int, *parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, (base, *parts))).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def derive_rng(base: int, *parts: object) -> random.Random:
    return random.Random(derive_seed(base, *parts))
