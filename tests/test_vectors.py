"""The index build's vectors: each distinct text embedded once, and a rebuild reads them from the cache."""

from __future__ import annotations

import numpy as np
import pytest

from index import vectors
from index.vectors import VectorCache, embed_texts, text_key

TEXTS = ["The fund supports joined-up projects.", "A unit reports to the Prime Minister.", "Short."]


def test_vectors_are_unit_length_and_one_per_text_in_order(tmp_path):
    got = embed_texts([*TEXTS, TEXTS[0]], VectorCache(tmp_path))
    assert len(got) == 4 and got[0] == got[3]
    assert np.allclose(np.linalg.norm(np.array(got), axis=1), 1.0, atol=1e-5)


def test_a_rebuild_takes_every_vector_from_the_cache_without_loading_the_model(tmp_path, monkeypatch):
    cache = VectorCache(tmp_path)
    first = embed_texts(TEXTS, cache)

    def no_model():
        raise AssertionError("the model was loaded although every vector was cached")

    monkeypatch.setattr(vectors, "load_sentence_model", no_model)
    assert embed_texts(list(reversed(TEXTS)), cache) == list(reversed(first))


def test_the_cache_belongs_to_one_model_and_keeps_only_what_was_asked_for(tmp_path):
    embed_texts(TEXTS, VectorCache(tmp_path))
    assert VectorCache(tmp_path, model_sha256="0" * 64).load() == {}
    embed_texts(TEXTS[:1] + ["Something new."], VectorCache(tmp_path))
    assert set(VectorCache(tmp_path).load()) == {text_key(TEXTS[0]), text_key("Something new.")}


@pytest.mark.parametrize("damage", [b"", b"not a zip file", b"PK\x03\x04 broken"])
def test_a_damaged_cache_file_is_an_empty_cache_and_is_rewritten(tmp_path, damage):
    cache = VectorCache(tmp_path)
    cache.path.parent.mkdir(parents=True, exist_ok=True)
    cache.path.write_bytes(damage)
    assert cache.load() == {}
    embed_texts(TEXTS[:1], cache)
    assert set(cache.load()) == {text_key(TEXTS[0])}


def test_a_build_from_scratch_embeds_every_text_and_fills_its_cache(tmp_path):
    from index.settings import IndexSettings
    from index.store import build_index, open_index

    settings = IndexSettings(path=tmp_path / "index", vectors_path=tmp_path / "vectors")
    assert not VectorCache(settings.vectors_folder).load()
    result = build_index(settings, force=True)
    cached = VectorCache(settings.vectors_folder).load()
    assert result["built"] and len(cached) >= 0.9 * result["windows"]  # each distinct window and sentence
    assert open_index(settings, build_if_missing=False).count() == result["windows"]


def test_a_cache_folder_that_cannot_be_written_costs_speed_not_the_build(tmp_path, capsys):
    blocked = tmp_path / "a file, not a folder"
    blocked.write_text("")
    got = embed_texts(TEXTS[:1], VectorCache(blocked / "vectors"))
    assert len(got) == 1 and len(got[0]) == 384
    err = capsys.readouterr().err
    assert "vectors not cached" in err and err.count("\n") == 1
