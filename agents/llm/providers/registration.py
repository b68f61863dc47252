"""Registering this project's providers (``local``, ``testdouble``, ``faulty``) with LiteLLM.

LiteLLM keeps custom providers in its own module-level map, so registration is
done once per process, on first use, never at import time.
"""

from __future__ import annotations

import threading

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.agents.llm.providers import faulty, local, scripted

# Provider prefix -> factory of its LiteLLM handler.
HANDLERS = {
    local.LOCAL_PROVIDER: local.make_handler,
    scripted.TEST_DOUBLE_PROVIDER: scripted.make_handler,
    faulty.FAULTY_PROVIDER: faulty.make_handler,
}

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
