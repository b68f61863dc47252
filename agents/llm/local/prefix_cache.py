"""Keys and values of recent prompts, so a prompt that starts like an earlier one prefills only the rest.

A course re-sends much of its last prompt: a questionnaire's items differ only in the item, and a
counselor turn is the previous turn's prompt plus two messages. Prefill is compute-bound on the
CPU, so reusing those positions saves real time, in batched and one-at-a-time serving alike.

Entries are whole prompts; a lookup takes the longest common prefix over all entries. Least
recently used entries go first once the total passes ``max_tokens`` (``MUSPSY_LOCAL_PREFIX_CACHE_TOKENS``) (each token costs
layers x kv_heads x head_dim x 8 bytes: 46 KB for SmolLM2-135M in float32).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

# Shorter matches (a chat template's first line) are not worth a copy.
MIN_REUSE = 16
# Prompts that share at least this many leading tokens are worth prefilling once for all of them
# (one client's questionnaire items): the static batcher groups them, the continuous one makes
# the later ones wait for the first.
SHARED_PREFIX_MIN = 32


@dataclass
class CachedPrefix:
    length: int
    keys: object  # [layer, kv_head, position, head_dim]
    values: object
    entry: tuple[int, ...]  # the stored prompt it came from


class PrefixCache:
    def __init__(self, max_tokens: int):
        self.max_tokens = max_tokens
        self._entries: OrderedDict[tuple[int, ...], tuple[object, object, object]] = OrderedDict()
        self._tokens = 0
        self.hits = 0
        self.reused_tokens = 0

    def __len__(self) -> int:
        return len(self._entries)

    def longest_prefix(self, prompt: list[int]) -> CachedPrefix | None:
        """The cached positions for the longest stored start of ``prompt``, leaving at least its last token to feed.

        Only a look: ``use`` marks it used, when the caller takes it.
        """
        import numpy as np  # lazy: numpy is only needed once the engine serves requests

        if not self._entries:
            return None
        wanted = np.asarray(prompt)
        best, best_key = 0, None
        for key, (tokens, _, _) in self._entries.items():
            shared = common_prefix_length(tokens, wanted)
            if shared > best:
                best, best_key = shared, key
        best = min(best, len(prompt) - 1)
        if best < MIN_REUSE:
            return None
        _, keys, values = self._entries[best_key]
        return CachedPrefix(best, keys[:, :, :best], values[:, :, :best], best_key)

    def use(self, found: CachedPrefix) -> None:
        if found.entry in self._entries:
            self._entries.move_to_end(found.entry)
        self.hits += 1
        self.reused_tokens += found.length

    def add(self, prompt: list[int], keys, values) -> None:
        import numpy as np  # lazy: numpy is only needed once the engine serves requests

        key = tuple(prompt)
        if len(prompt) > self.max_tokens or key in self._entries:
            return
        self._entries[key] = (np.asarray(prompt), keys, values)
        self._tokens += len(prompt)
        while self._tokens > self.max_tokens:
            evicted, _ = self._entries.popitem(last=False)
            self._tokens -= len(evicted)


def common_prefix_length(first, second) -> int:
    """How many leading tokens two sequences (lists or arrays) share."""
    import numpy as np  # lazy: numpy is only needed once the engine serves requests

    first, second = np.asarray(first), np.asarray(second)
    length = min(len(first), len(second))
    differ = np.flatnonzero(first[:length] != second[:length])
    return int(differ[0]) if differ.size else length
