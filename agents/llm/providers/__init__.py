"""This project's LiteLLM providers, and their registration with LiteLLM (``registration``).

One module per provider: ``local`` (``local/...``, the in-process engine of ``agents/llm/local/``),
``scripted`` (``testdouble/...``, the scripted TEST DOUBLE) and ``faulty`` (``faulty/...``, a TEST
DOUBLE that injects faults into another model's answers); ``responses`` fills LiteLLM responses.
LiteLLM strips the provider prefix: each handler gets the rest of the model string.
"""
