"""Registering this project's providers with LiteLLM, and checking model strings.

LiteLLM keeps custom providers in its own module-level map, so registration is
done once per process, on first use, never at import time.
"""

from __future__ import annotations

import threading

from muspsy_sim.agents.llm.environment import configure_offline_environment
from muspsy_sim.agents.llm.fault_injection import FAULTY_PROVIDER
from muspsy_sim.agents.llm.local.resolution import LocalModelNotFound, resolve_local_model
from muspsy_sim.agents.llm.local_provider import LOCAL_PROVIDER
from muspsy_sim.agents.llm.test_double import TEST_DOUBLE_PROVIDER, TEST_DOUBLE_SCRIPTS

_registered = False
_registering = threading.Lock()


class UnknownModel(ValueError):
    pass


def litellm_with_providers():
    """Import litellm (offline) with the ``local``, ``testdouble`` and ``faulty`` providers registered."""
    global _registered
    configure_offline_environment()
    import litellm

    with _registering:
        if not _registered:
            from muspsy_sim.agents.llm.fault_injection import _make_faulty_class
            from muspsy_sim.agents.llm.local_provider import _make_provider_class
            from muspsy_sim.agents.llm.test_double import _make_test_double_class

            litellm.suppress_debug_info = True
            litellm.custom_provider_map = [
                entry
                for entry in litellm.custom_provider_map
                if entry["provider"] not in (LOCAL_PROVIDER, TEST_DOUBLE_PROVIDER, FAULTY_PROVIDER)
            ] + [
                {"provider": LOCAL_PROVIDER, "custom_handler": _make_provider_class()()},
                {"provider": TEST_DOUBLE_PROVIDER, "custom_handler": _make_test_double_class()()},
                {"provider": FAULTY_PROVIDER, "custom_handler": _make_faulty_class()()},
            ]
            _registered = True
    return litellm


def check_model_string(model: str) -> None:
    """Raise ``UnknownModel`` (with the reason) when ``model`` cannot be served."""
    provider, _, name = model.partition("/")
    if not name:
        raise UnknownModel(f"model '{model}' has no provider prefix (e.g. local/..., openai/...)")
    if provider == LOCAL_PROVIDER:
        try:
            resolve_local_model(name)
        except LocalModelNotFound as error:
            raise UnknownModel(str(error)) from None
        return
    if provider == FAULTY_PROVIDER:
        check_model_string(name)  # the fault-injecting test double wraps another model string
        return
    if provider == TEST_DOUBLE_PROVIDER:
        if name not in TEST_DOUBLE_SCRIPTS:
            raise UnknownModel(f"unknown test double '{name}' (known: {', '.join(sorted(TEST_DOUBLE_SCRIPTS))})")
        return
    litellm = litellm_with_providers()
    try:
        litellm.get_llm_provider(model)
    except Exception:
        raise UnknownModel(f"unknown model provider '{provider}' in '{model}'") from None


def serving_provider(model: str) -> str:
    """The provider that actually answers ``model`` (through any ``faulty/`` wrapper)."""
    while model.startswith(f"{FAULTY_PROVIDER}/"):
        model = model.removeprefix(f"{FAULTY_PROVIDER}/")
    return model.partition("/")[0]
