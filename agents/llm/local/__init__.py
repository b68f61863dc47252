"""The in-process inference engine behind ``local/...`` model strings (torch and transformers, no LiteLLM).

Modules, top to bottom (each imports only those below it):

- ``serving``: chat messages to token ids; generation and next-token scoring requests.
- ``loading``: loading a model once per process (GGUF to a cached dense copy, LoRA merged) and its batcher.
- ``resolution``: where a ``local/<name>`` model's files are.
- ``continuous_batching`` (Llama-family models) and ``static_batching`` (any other causal LM).
- ``packed_llama`` (the packed forward pass), ``prefix_cache`` (reused prompt prefixes),
  ``decoding`` (each row's next token).
- ``requests`` (request types and the queue worker) and ``settings`` (batch settings from the environment).
"""
