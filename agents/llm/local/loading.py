"""Loading local models, once per process, each with its batcher.

A GGUF model is converted once to a dense copy in the cache (``dense_copy_of_gguf``); a LoRA
adapter is merged into its base model. Every model is served by one batcher per batch settings:
continuous batching where the model has the Llama layout it needs, static batches otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .continuous_batching import ContinuousBatcher
from .packed_llama import supports
from .requests import QueueWorker
from .resolution import LocalModelSpec
from .settings import BatchSettings, choose_dtype
from .static_batching import StaticBatcher


@dataclass
class LoadedModel:
    spec: LocalModelSpec
    tokenizer: object
    model: object
    lock: threading.Lock = field(default_factory=threading.Lock)
    # All torch work on a model runs in its batcher's one worker thread: concurrent torch
    # calls on few cores only oversubscribe the threads. One batcher per settings, so a
    # benchmark can compare max batch 1 and 16 in one process.
    batchers: dict = field(default_factory=dict)

    def batcher(self, settings: BatchSettings | None = None) -> QueueWorker:
        settings = settings or BatchSettings.from_environment()
        with self.lock:
            if settings not in self.batchers:
                self.batchers[settings] = batcher_for(self.model, self.tokenizer, settings)
            return self.batchers[settings]


_loaded: dict[tuple[LocalModelSpec, str], LoadedModel] = {}
_loading = threading.Lock()


def load_local_model(spec: LocalModelSpec, dtype: str | None = None) -> LoadedModel:
    """Load (once per process and dtype) and return the tokenizer and model for ``spec``.

    ``dtype`` ("float32" or "bfloat16"): by default what the CPU computes natively (``choose_dtype``).
    """
    key = (spec, dtype or choose_dtype().dtype)
    with _loading:
        if key not in _loaded:
            _loaded[key] = _load(*key)
        return _loaded[key]


def _load(spec: LocalModelSpec, dtype: str) -> LoadedModel:
    # lazy: torch and transformers take seconds to import
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = spec.adapter_of or spec
    directory = dense_copy_of_gguf(base) if base.gguf_file else base.directory
    tokenizer = AutoTokenizer.from_pretrained(directory)
    # bf16 where the CPU computes it natively, fp32 where it would be emulated (settings.choose_dtype).
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=getattr(torch, dtype))
    if spec.adapter_of is not None:
        from peft import PeftModel  # lazy: peft is slow to import and only adapters need it

        # Merged for inference: plain linear layers, as fast as the base model and served by
        # the same continuous batcher.
        model = PeftModel.from_pretrained(model, spec.directory).merge_and_unload()
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(spec, tokenizer, model)


def model_cache_dir() -> Path:
    return Path(os.environ.get("MUSPSY_SIM_CACHE", Path.home() / ".cache" / "muspsy-sim"))


def dense_copy_of_gguf(spec: LocalModelSpec) -> Path:
    """A dense bf16 copy of a GGUF model, converted once and cached on disk.

    Converting the GGUF tokenizer and weights takes ~30 s on 2 cores; loading
    the converted copy takes ~1 s, so every later process starts fast.
    """
    gguf_path = spec.directory / spec.gguf_file
    stat = gguf_path.stat()
    key = hashlib.sha256(f"{gguf_path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = model_cache_dir() / "models" / f"{gguf_path.stem}-{key}"
    if (target / "config.json").is_file():
        return target

    # lazy: torch and transformers take seconds to import
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(spec.directory, gguf_file=spec.gguf_file)
    model = AutoModelForCausalLM.from_pretrained(
        spec.directory,
        gguf_file=spec.gguf_file,
        dtype=torch.bfloat16,
        # Dense weights: plain torch kernels, trainable with LoRA, and serializable.
        quantization_config=GgufConfig(dequantize=True),
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        # Concurrent first runs may race here; whichever renames first wins.
        os.replace(staging, target) if not target.exists() else shutil.rmtree(staging)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def batcher_for(model, tokenizer, settings: BatchSettings) -> QueueWorker:
    """Continuous batching where the model has the Llama layout it needs, static batches otherwise."""
    if supports(model):
        return ContinuousBatcher(model, tokenizer, settings)
    return StaticBatcher(model, tokenizer, settings)
