"""all-MiniLM-L6-v2 for one query at a time, in NumPy: the same weights and arithmetic as
sentence-transformers (BERT, mean pooling, L2 normalisation), without importing torch.

Why: importing sentence-transformers, transformers and torch takes 8-10 s on two cores,
which is most of a cold start. A query is a few dozen word pieces, so a plain forward
pass costs about 12 ms on two cores, as sentence-transformers does. The index itself is still embedded by sentence-transformers;
tests/test_model.py checks that both give the same vectors.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

# A&S 7.1.26 coefficients: erf to 1.5e-7, well inside float32's own rounding here.
_ERF_P = 0.3275911
_ERF_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def _erf(x: np.ndarray) -> np.ndarray:
    sign = np.sign(x)
    x = np.abs(x)
    t = 1.0 / (1.0 + _ERF_P * x)
    a1, a2, a3, a4, a5 = _ERF_A
    poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t
    return sign * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:
    # BERT's "gelu" is the exact erf form, not the tanh approximation.
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


class MiniLMEncoder:
    """Embeds text as sentence-transformers would with this model folder."""

    def __init__(self, model_dir: Path):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((model_dir / "config.json").read_text())
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config["layer_norm_eps"])
        max_tokens = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_tokens)
        self.w = {
            name: np.ascontiguousarray(value) for name, value in load_file(model_dir / "model.safetensors").items()
        }

    def embed(self, text: str) -> np.ndarray:
        """The unit-length 384-float vector of one text."""
        encoding = self.tokenizer.encode(text)
        hidden = self._embeddings(np.asarray(encoding.ids), np.asarray(encoding.type_ids))
        for layer in range(self.layers):
            hidden = self._layer(hidden, f"encoder.layer.{layer}.")
        pooled = hidden.mean(axis=0)  # one unpadded text: every token counts
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)

    def _embeddings(self, ids: np.ndarray, type_ids: np.ndarray) -> np.ndarray:
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: len(ids)]
            + w["embeddings.token_type_embeddings.weight"][type_ids]
        )
        return _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _layer(self, x: np.ndarray, p: str) -> np.ndarray:
        w, eps = self.w, self.eps
        attended = self._attention(x, p + "attention.self.")
        x = _layer_norm(
            self._dense(attended, p + "attention.output.dense") + x,
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
            eps,
        )
        inner = _gelu(self._dense(x, p + "intermediate.dense"))
        return _layer_norm(
            self._dense(inner, p + "output.dense") + x,
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
            eps,
        )

    def _attention(self, x: np.ndarray, p: str) -> np.ndarray:
        n, width = x.shape
        size = width // self.heads

        def split(name: str) -> np.ndarray:  # (heads, tokens, size)
            return self._dense(x, p + name).reshape(n, self.heads, size).transpose(1, 0, 2)

        q, k, v = split("query"), split("key"), split("value")
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        return (scores @ v).transpose(1, 0, 2).reshape(n, width)
