"""A model string, parsed once into a ``ModelSpec``: what every later step of the model layer takes.

Model strings are ``provider/name``:

- ``local/<alias-or-path>``: served in-process by the ``local/`` engine (``providers/local.py``);
- ``testdouble/<script>``: the scripted TEST DOUBLE (``providers/scripted.py``);
- ``faulty/<model string>``: the inner model with injected faults, a TEST DOUBLE (``providers/faulty.py``);
- any other LiteLLM model string (``openai/...``, ``hosted_vllm/...``, ...), served by LiteLLM itself.

``ModelSpec.parse`` reads the syntax; ``check`` says whether the model can be served (resolving a
local model's files, a test double's script, or asking LiteLLM about the provider).
"""

from __future__ import annotations

from dataclasses import dataclass

from muspsy_sim.agents.llm.local.resolution import LocalModelNotFound, resolve_local_model
from muspsy_sim.agents.llm.providers.faulty import FAULTY_PROVIDER
from muspsy_sim.agents.llm.providers.local import LOCAL_PROVIDER
from muspsy_sim.agents.llm.providers.registration import litellm_with_providers
from muspsy_sim.agents.llm.providers.scripted import JSON_ONLY, TEST_DOUBLE_PROVIDER, TEST_DOUBLE_SCRIPTS

# Providers that score exactly the given options (``score_options``; ``choice_scoring``), in process.
LIKELIHOOD_PROVIDERS = frozenset({LOCAL_PROVIDER, TEST_DOUBLE_PROVIDER})
# ... except this test double, which stands in for an API model without log-probabilities.
NO_LIKELIHOOD_MODELS = frozenset({f"{TEST_DOUBLE_PROVIDER}/{JSON_ONLY}"})


class UnknownModel(ValueError):
    """A model string that cannot be served; the message says why."""


@dataclass(frozen=True)
class ModelSpec:
    text: str  # the model string as given: what records, messages and LiteLLM see
    provider: str  # the part before the first "/"
    name: str  # the rest: a local alias or path, a script, the inner model string, a provider's model name
    inner: ModelSpec | None = None  # the wrapped model of faulty/...

    @classmethod
    def parse(cls, text: str) -> ModelSpec:
        """``UnknownModel`` when ``text`` (or a ``faulty/`` model's inner string) has no provider prefix."""
        provider, _, name = text.partition("/")
        if not name:
            raise UnknownModel(f"model '{text}' has no provider prefix (e.g. local/..., openai/...)")
        return cls(text, provider, name, cls.parse(name) if provider == FAULTY_PROVIDER else None)

    def __str__(self) -> str:
        return self.text

    @property
    def serving(self) -> ModelSpec:
        """The model that actually answers, through any ``faulty/`` wrapper."""
        return self.inner.serving if self.inner is not None else self

    @property
    def injects_faults(self) -> bool:
        return self.provider == FAULTY_PROVIDER

    @property
    def offers_likelihoods(self) -> bool:
        """Whether the serving provider scores exactly the given options in process (``score_options``).

        Any other model is served over the wire (or stands in for one): whether it gives log-probabilities
        is asked of the server (``choice_scoring``).
        """
        serving = self.serving
        return serving.provider in LIKELIHOOD_PROVIDERS and serving.text not in NO_LIKELIHOOD_MODELS

    def check(self) -> ModelSpec:
        """This spec, when it can be served; ``UnknownModel`` with the reason otherwise."""
        if self.inner is not None:
            self.inner.check()
        elif self.provider == LOCAL_PROVIDER:
            try:
                resolve_local_model(self.name)
            except LocalModelNotFound as error:
                raise UnknownModel(str(error)) from None
        elif self.provider == TEST_DOUBLE_PROVIDER:
            if self.name not in TEST_DOUBLE_SCRIPTS:
                known = ", ".join(sorted(TEST_DOUBLE_SCRIPTS))
                raise UnknownModel(f"unknown test double '{self.name}' (known: {known})")
        else:
            litellm = litellm_with_providers()
            try:
                litellm.get_llm_provider(self.text)
            except Exception:
                raise UnknownModel(f"unknown model provider '{self.provider}' in '{self.text}'") from None
        return self
