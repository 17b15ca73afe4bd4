"""Embeddings for the index build: sentence-transformers in length-sorted batches, and a cache of vectors
keyed by the sha256 of each text and the model's weights, so that a rebuild embeds only what changed."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import uuid
import zipfile
from pathlib import Path

import numpy as np

from index.embed import MODEL_SHA256, load_sentence_model

# Texts per forward pass. sentence-transformers sorts them by length first, so a batch holds texts of about
# one length and pads little; 16 was the fastest of 16, 64 and 256 on two cores.
BUILD_BATCH = 16
PROGRESS_CHUNK = 128  # texts between two moves of the progress bar


def _embed(texts: list[str], progress: bool) -> dict[str, np.ndarray]:
    """Vectors by text key, shortest texts first in chunks, with a progress bar when asked for."""
    from tqdm import tqdm

    model = load_sentence_model()
    ordered = sorted(texts, key=len)
    out: dict[str, np.ndarray] = {}
    with tqdm(total=len(texts), desc="embedding", unit=" texts", disable=not progress, file=sys.stderr) as bar:
        for at in range(0, len(ordered), PROGRESS_CHUNK):
            chunk = ordered[at : at + PROGRESS_CHUNK]
            made = model.encode(
                chunk, batch_size=BUILD_BATCH, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            out.update({text_key(t): v.astype(np.float32) for t, v in zip(chunk, made, strict=True)})
            bar.update(len(chunk))
    return out


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class VectorCache:
    """One .npz file of vectors per model (named by its weights' sha256), read whole and written atomically."""

    def __init__(self, folder: Path, model_sha256: str = MODEL_SHA256):
        self.path = Path(folder) / f"minilm-{model_sha256[:16]}.npz"

    def load(self) -> dict[str, np.ndarray]:
        """The cached vectors by text key; an unreadable or missing file is an empty cache (it is rebuilt)."""
        try:
            with np.load(self.path) as data:
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # damaged: rebuilt as if missing
            return {}
        if len(keys) != len(vectors):
            return {}
        return {str(k): v for k, v in zip(keys, vectors, strict=True)}

    def save(self, vectors: dict[str, np.ndarray]) -> bool:
        """Write the cache; a folder that cannot be written costs the next build its speed, never this one."""
        tmp = self.path.with_name(f".{self.path.stem}.{uuid.uuid4().hex}.npz")
        keys = sorted(vectors)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, keys=np.array(keys), vectors=np.stack([vectors[k] for k in keys]).astype(np.float32))
            os.replace(tmp, self.path)
        except OSError as exc:
            print(
                f"wiring-qa: vectors not cached ({exc.strerror or exc}); the next build embeds again", file=sys.stderr
            )
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            return False
        return True


def embed_texts(texts: list[str], cache: VectorCache | None = None, progress: bool = False) -> list[list[float]]:
    """A unit vector per text; each distinct text is embedded once, and not at all when the cache has it
    (then the model is not even loaded)."""
    known = cache.load() if cache else {}
    distinct = list(dict.fromkeys(texts))
    todo = [t for t in distinct if text_key(t) not in known]
    if todo:
        known.update(_embed(todo, progress))
        if cache:
            cache.save({text_key(t): known[text_key(t)] for t in distinct})  # what this report needs, no more
    return [known[text_key(t)].tolist() for t in texts]
