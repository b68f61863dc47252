"""How this project's providers are reached: called in process, or registered with LiteLLM.

``local`` and ``testdouble`` answer in this process: routing calls their answer functions directly
(``IN_PROCESS_ANSWERS``), so a campaign on them never imports LiteLLM (seconds of start-up). All three
(``faulty`` too, which injects LiteLLM's own exceptions) are also registered with LiteLLM as ordinary
custom providers. LiteLLM keeps custom providers in its own module-level map, so registration is done
once per process, on first use, never at import time.
"""

from __future__ import annotations

import threading

from ..environment import configure_offline_environment
from ..local.resolution import LocalModelNotFound
from ..spec import FAULTY, LOCAL, TEST_DOUBLE
from . import faulty, local, scripted

# Provider prefix -> its answer to one request, in this process (name after the prefix, messages, params).
IN_PROCESS_ANSWERS = {LOCAL: local.local_answer, TEST_DOUBLE: scripted.scripted_answer}
# What an in-process provider raises when its model cannot answer: its files missing or unreadable, memory
# exhausted, the engine failing as it runs (torch's errors, a CUDA out-of-memory among them, are
# RuntimeErrors). Routing reports these as the model unavailable; any other exception (a KeyError, a
# TypeError, ...) is a fault in the code and goes up as it is.
IN_PROCESS_FAILURES = (OSError, MemoryError, RuntimeError, LocalModelNotFound)
# RuntimeErrors that are faults in the code all the same.
IN_PROCESS_CODE_FAULTS = (NotImplementedError, RecursionError)
# Provider prefix -> factory of its LiteLLM handler.
HANDLERS = {LOCAL: local.make_handler, TEST_DOUBLE: scripted.make_handler, FAULTY: faulty.make_handler}

_registered = False
_registering = threading.Lock()


def litellm_with_providers():
    """Import litellm (offline) with the ``local``, ``testdouble`` and ``faulty`` providers registered."""
    global _registered
    configure_offline_environment()
    import litellm  # lazy: litellm takes seconds to import, and must see the offline settings first

    with _registering:
        if not _registered:
            litellm.suppress_debug_info = True
            litellm.custom_provider_map = [
                entry for entry in litellm.custom_provider_map if entry["provider"] not in HANDLERS
            ] + [{"provider": provider, "custom_handler": make()} for provider, make in HANDLERS.items()]
            _registered = True
    return litellm
