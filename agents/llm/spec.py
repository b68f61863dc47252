"""A model string, parsed once into a ``ModelSpec``: a pure value every later step of the model layer takes.

Model strings are ``provider/name``:

- ``local/<alias-or-path>``: served in-process by the ``local/`` engine (``providers/local.py``);
- ``testdouble/<script>``: the scripted TEST DOUBLE (``providers/scripted.py``);
- ``faulty/<model string>``: the inner model with injected faults, a TEST DOUBLE (``providers/faulty.py``);
- any other LiteLLM model string (``openai/...``, ``hosted_vllm/...``, ...), served by LiteLLM itself.

``ModelSpec.parse`` reads the syntax and nothing else: it imports no provider and no engine, so
reading a config costs nothing. Whether a model can be served (a local model's files, a test
double's script, LiteLLM knowing the provider) is asked where the model is built
(``routing.servable``).
"""

from __future__ import annotations

from dataclasses import dataclass

# This project's providers (agents/llm/providers/), by the prefix of their model strings.
LOCAL = "local"
TEST_DOUBLE = "testdouble"
FAULTY = "faulty"
# The test double's scripts; "json-only" stands in for an API model without log-probabilities.
JSON_ONLY_SCRIPT = "json-only"
TEST_DOUBLE_SCRIPTS = frozenset({"scripted", "slow", "poor-counselor", JSON_ONLY_SCRIPT})
JSON_ONLY_MODEL = f"{TEST_DOUBLE}/{JSON_ONLY_SCRIPT}"  # the model string of that script
# Providers that answer in this process (no server between): they score exactly the given options.
IN_PROCESS = frozenset({LOCAL, TEST_DOUBLE})


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
        return cls(text, provider, name, cls.parse(name) if provider == FAULTY else None)

    def __str__(self) -> str:
        return self.text

    @property
    def serving(self) -> ModelSpec:
        """The model that actually answers, through any ``faulty/`` wrapper."""
        return self.inner.serving if self.inner is not None else self

    @property
    def injects_faults(self) -> bool:
        return self.provider == FAULTY

    @property
    def in_process(self) -> bool:
        """Answered in this process by one of this project's providers, with no fault injected on the way."""
        return self.provider in IN_PROCESS

    @property
    def offers_likelihoods(self) -> bool:
        """Whether the serving provider scores exactly the given options in process (``score_options``).

        Any other model is served over the wire (or stands in for one): whether it gives log-probabilities
        is asked of the server (``choice_scoring``).
        """
        serving = self.serving
        return serving.provider in IN_PROCESS and serving.text != JSON_ONLY_MODEL
