"""all-MiniLM-L6-v2 sentence embeddings in NumPy, from the bundled safetensors weights.

Why not sentence-transformers: importing it pulls in torch and transformers,
which takes 10-30 s on a 2-core machine, and every campaign process (Ray
workers included) pays it even when the models are remote. This is the same
network (BERT encoder, mean pooling, L2 normalization) in about a hundred lines,
with the fast Rust tokenizer; it loads in well under a second, and
tests/test_memory_store.py checks it against sentence-transformers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

_LAYER_NORM_EPS = 1e-12
_CHUNK = 32


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _LAYER_NORM_EPS) * weight + bias


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7): exact-erf GELU without scipy.
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class MiniLMEncoder:
    """Tokenize, encode, mean-pool and normalize: the sentence-transformers pipeline of the bundled model."""

    def __init__(self, model_dir: Path):
        config = json.loads((model_dir / "config.json").read_text())
        max_length = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.weights = load_file(str(model_dir / "model.safetensors"))
        self._transposed: dict[str, np.ndarray] = {}
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))

    def _w(self, name: str) -> np.ndarray:
        return self.weights[name]

    # Scalars below are Python floats: a NumPy float64 scalar would promote every activation to float64.
    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        # A 2-D product with a contiguous (in, out) matrix runs as one BLAS gemm; a batched 3-D
        # product with a transposed view does not (measured ~1 ms vs ~0.05 ms per call).
        weight = self._transposed.get(name)
        if weight is None:
            weight = self._transposed[name] = np.ascontiguousarray(self._w(f"{name}.weight").T)
        flat = x.reshape(-1, x.shape[-1]) @ weight + self._w(f"{name}.bias")
        return flat.reshape(*x.shape[:-1], weight.shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """One L2-normalized vector per text, float32, shape (len(texts), hidden)."""
        if len(texts) <= _CHUNK:
            return self._encode_padded(list(texts))
        # Texts of similar length together, in small chunks: padding a long batch to its
        # longest text wastes most of the work when lengths vary.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors = np.empty((len(texts), self.weights["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        for start in range(0, len(order), _CHUNK):
            chosen = order[start:start + _CHUNK]
            vectors[chosen] = self._encode_padded([texts[i] for i in chosen])
        return vectors

    def _encode_padded(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.float32)
        batch, length = ids.shape
        x = (self._w("embeddings.word_embeddings.weight")[ids]
             + self._w("embeddings.position_embeddings.weight")[:length][None]
             + self._w("embeddings.token_type_embeddings.weight")[0])
        x = _layer_norm(x, self._w("embeddings.LayerNorm.weight"), self._w("embeddings.LayerNorm.bias"))
        # Padding positions get -inf-like scores so they take no attention.
        additive_mask = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(self.layers):
            x = self._encoder_layer(x, f"encoder.layer.{layer}", additive_mask, batch, length)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.clip(mask.sum(axis=1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def _encoder_layer(self, x, prefix, additive_mask, batch, length):
        hidden = x.shape[-1]
        head_dim = hidden // self.heads

        def split_heads(t):
            return t.reshape(batch, length, self.heads, head_dim).transpose(0, 2, 1, 3)

        query = split_heads(self._dense(x, f"{prefix}.attention.self.query"))
        key = split_heads(self._dense(x, f"{prefix}.attention.self.key"))
        value = split_heads(self._dense(x, f"{prefix}.attention.self.value"))
        scores = query @ key.transpose(0, 1, 3, 2) / math.sqrt(head_dim) + additive_mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        context = (attention @ value).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
        x = _layer_norm(x + self._dense(context, f"{prefix}.attention.output.dense"),
                        self._w(f"{prefix}.attention.output.LayerNorm.weight"),
                        self._w(f"{prefix}.attention.output.LayerNorm.bias"))
        intermediate = _gelu(self._dense(x, f"{prefix}.intermediate.dense"))
        return _layer_norm(x + self._dense(intermediate, f"{prefix}.output.dense"),
                           self._w(f"{prefix}.output.LayerNorm.weight"),
                           self._w(f"{prefix}.output.LayerNorm.bias"))
