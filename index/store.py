"""The Chroma index, through LlamaIndex: stamped, built aside and swapped in atomically.

Local mode keeps each build in its own directory under ``<path>/builds`` and names the
live one in ``<path>/CURRENT``, which is replaced atomically. Server mode keeps each
build in its own collection and names the live one in a pointer collection's metadata.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import shutil
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.embed import MODEL_ID, count_tokens, load_query_encoder
from index.parse import PARSER_VERSION
from index.records import Record
from index.report import load_report, report_sha256
from index.settings import IndexSettings
from index.text import sentence_spans
from index.vectors import VectorCache, embed_texts
from index.windows import record_windows

os.environ["ANONYMIZED_TELEMETRY"] = "False"

POINTER_SUFFIX = "current"
# What the collection holds: record windows for search, and each sentence for answer scoring.
LAYOUT = "windows+sentences/1"


class IndexUnavailable(RuntimeError):
    """The index is missing, corrupt or unreachable; the message says what to do."""


@dataclass(frozen=True)
class Stamp:
    """What made an index: the report, the parser and the embedding model."""

    report_sha256: str
    parser_version: str
    model_id: str
    window_tokens: int
    layout: str = LAYOUT

    @property
    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Hit:
    record_id: str
    score: float
    window: int


@dataclass
class ReportIndex:
    """An opened index: the Chroma collection behind a LlamaIndex vector store."""

    collection: object
    vector_store: object
    stamp: Stamp
    built_at: str
    location: str
    # A fitted map applied to every question vector (assistant/models/adapter.npy); None leaves it as embedded.
    query_transform: Callable | None = None

    def query_vector(self, text: str) -> np.ndarray:
        vector = np.asarray(embed_query(text), dtype=np.float32)
        return vector if self.query_transform is None else self.query_transform(vector)

    def count(self) -> int:
        return self.collection.count()

    def window_vectors(self) -> tuple[np.ndarray, list[str]]:
        """Every record window's stored vector, and the id of the record each belongs to."""
        got = self.collection.get(where={"level": "window"}, include=["embeddings", "metadatas"])
        return np.asarray(got["embeddings"], dtype=np.float32), [m["record_id"] for m in got["metadatas"]]

    def search(self, text: str, k: int = 10, level: str = "window") -> list[Hit]:
        """Dense search over record windows (or single sentences); one hit per record, best first."""
        from llama_index.core.vector_stores import FilterOperator, MetadataFilter, MetadataFilters, VectorStoreQuery

        windows_only = MetadataFilters(filters=[MetadataFilter(key="level", value=level, operator=FilterOperator.EQ)])
        query = VectorStoreQuery(
            query_embedding=self.query_vector(text).tolist(), similarity_top_k=k * 3, filters=windows_only
        )
        result = self.vector_store.query(query)
        best: dict[str, Hit] = {}
        for node, similarity in zip(result.nodes, result.similarities, strict=True):
            record_id = node.metadata["record_id"]
            # Chroma reports exp(-cosine distance); turn it back into a cosine.
            score = 1.0 + math.log(max(similarity, 1e-12))
            if record_id not in best or score > best[record_id].score:
                best[record_id] = Hit(
                    record_id, score, int(node.metadata.get("window", node.metadata.get("position", 0)))
                )
        return sorted(best.values(), key=lambda h: (-h.score, h.record_id))[:k]

    def search_sentences(self, text: str, k: int = 10) -> list[Hit]:
        """Dense search over single sentences, in memory; one hit per record (its best sentence), best first."""
        keys, matrix = self._sentence_matrix()
        if not keys:
            return []
        scores = matrix @ self.query_vector(text)
        best: dict[str, Hit] = {}
        for i in np.argsort(-scores)[: k * 4]:
            record_id, position = keys[i]
            if record_id not in best:
                best[record_id] = Hit(record_id, float(scores[i]), position)
        return list(best.values())[:k]

    def _sentence_matrix(self) -> tuple[list[tuple[str, int]], np.ndarray]:
        if getattr(self, "_matrix", None) is None:
            vectors = self._sentence_vectors()
            self._matrix = (list(vectors), np.stack(list(vectors.values())) if vectors else np.zeros((0, 0)))
        return self._matrix

    def sentence_similarity(self, text: str, keys: list[tuple[str, int]]) -> list[float]:
        """Cosine between the text and each (record id, sentence position); 0 for unknown ones."""
        vectors = self._sentence_vectors()
        query = self.query_vector(text)
        return [float(vectors[key] @ query) if key in vectors else 0.0 for key in keys]

    def _sentence_vectors(self) -> dict:
        # Loaded once per opened index: ~1,500 vectors of 384 floats.
        if getattr(self, "_sentences", None) is None:
            got = self.collection.get(where={"level": "sentence"}, include=["embeddings", "metadatas"])
            self._sentences = {
                (meta["record_id"], int(meta["position"])): np.asarray(vector, dtype=np.float32)
                for meta, vector in zip(got["metadatas"], got["embeddings"], strict=True)
            }
        return self._sentences


@lru_cache(maxsize=512)
def _embed_query_cached(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in load_query_encoder().embed(text))


def embed_query(text: str) -> tuple[float, ...]:
    """The query's embedding; retrieval and sentence scoring share one computation."""
    return _embed_query_cached(text)


def current_stamp(settings: IndexSettings) -> Stamp:
    return Stamp(report_sha256(settings.report_path), PARSER_VERSION, MODEL_ID, settings.window_tokens)


def open_index(settings: IndexSettings, build_if_missing: bool = True) -> ReportIndex:
    """Open the live index; build it first when it is missing or its stamp is stale."""
    store = _store_for(settings)
    stamp = current_stamp(settings)
    opened = _try_open(store, stamp)
    if opened is not None:
        return opened
    if not build_if_missing:
        raise IndexUnavailable(f"no index for this report at {store.where}; run `wiring-qa index`")
    build_index(settings)
    opened = store.open(stamp)
    if opened is None:
        raise IndexUnavailable(f"the index at {store.where} could not be opened after a build")
    return opened


def build_index(settings: IndexSettings, force: bool = False, progress=None) -> dict:
    """Build the index aside and swap it in; returns counts and timing."""
    store = _store_for(settings)
    stamp = current_stamp(settings)
    started = time.perf_counter()
    with store.lock():
        if not force and _try_open(store, stamp) is not None:
            return {"built": False, "seconds": time.perf_counter() - started, "location": store.where}
        records = load_report(settings.report_path).records
        warming = _import_store_aside()
        nodes = _nodes(records, settings, warming, progress)
        print(f"wiring-qa: writing the index to {store.where}", file=sys.stderr, flush=True)
        store.write(stamp, nodes, settings)
    return {
        "built": True,
        "records": len(records),
        "windows": len(nodes),
        "seconds": time.perf_counter() - started,
        "location": store.where,
    }


def _import_store_aside() -> threading.Thread:
    """Import Chroma and LlamaIndex's vector store on a side thread while the model embeds: about a second
    of the build that otherwise waits its turn. A failure here is left to the import that follows."""

    def load() -> None:
        with contextlib.suppress(Exception):
            import chromadb  # noqa: F401
            from llama_index.core.schema import TextNode  # noqa: F401
            from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: F401

    thread = threading.Thread(target=load, name="wiring-qa-import-store", daemon=True)
    thread.start()
    return thread


def _node(node_id: str, text: str, meta: dict, vector: list[float]):
    from llama_index.core.schema import TextNode

    node = TextNode(id_=node_id, text=text, metadata=meta, embedding=vector)
    node.excluded_embed_metadata_keys = list(meta)  # embed the text alone
    node.excluded_llm_metadata_keys = list(meta)
    return node


def _try_open(store, stamp: Stamp) -> ReportIndex | None:
    """The live index, or None when it is missing, stale or unreadable (then it is rebuilt)."""
    try:
        return store.open(stamp)
    except IndexUnavailable as exc:
        if isinstance(store, _ServerStore):
            raise
        print(f"wiring-qa: {exc}; rebuilding", file=sys.stderr)
        return None


def _nodes(records: list[Record], settings: IndexSettings, warming: threading.Thread, progress=None) -> list:
    """A node per window and sentence with its vector. The texts are embedded before any node is made, and
    the nodes made once the side thread has imported LlamaIndex: two threads importing it at once could meet
    a partly initialised module."""
    specs = list(_node_specs(records, settings))
    texts = [text for _, text, _ in specs]
    if progress:
        progress(0.1, f"embedding {len(texts)} windows and sentences")
    cache = VectorCache(settings.vectors_folder)
    bar = sys.stderr.isatty()  # a terminal watching a build sees it move; logs and tests get no bar
    vectors = embed_texts(texts, cache, progress=bar)
    warming.join()
    return [_node(node_id, text, meta, vector) for (node_id, text, meta), vector in zip(specs, vectors, strict=True)]


def _node_specs(records: list[Record], settings: IndexSettings):
    """(node id, text, metadata) for each record's windows, then its sentences."""
    for record in records:
        for window in record_windows(record, settings.window_tokens, count_tokens):
            meta = {
                "level": "window",
                "record_id": record.id,
                "kind": record.kind,
                "window": window.number,
                "conclusion": record.conclusion or 0,
                "part": record.part or 0,
                "heading": record.heading,
            }
            yield window.node_id, window.text, meta
        for position, (start, end) in enumerate(sentence_spans(record.text)):
            meta = {"level": "sentence", "record_id": record.id, "kind": record.kind, "position": position}
            yield f"{record.id}@s{position}", record.text[start:end], meta


def _store_for(settings: IndexSettings):
    return _ServerStore(settings) if settings.server_mode else _LocalStore(settings)


def chroma_settings():
    import chromadb

    return chromadb.Settings(anonymized_telemetry=False, allow_reset=False)


def _collection_metadata(stamp: Stamp, built_at: str, complete: bool) -> dict:
    meta = {f"stamp_{k}": v for k, v in asdict(stamp).items()}
    meta.update(built_at=built_at, complete=complete)
    return meta


def _stamp_from(meta: dict) -> Stamp | None:
    try:
        return Stamp(**{k: meta[f"stamp_{k}"] for k in Stamp.__dataclass_fields__})
    except (KeyError, TypeError):
        return None


def _fill(client, name: str, stamp: Stamp, nodes: list) -> str:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    built_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    collection = client.create_collection(
        name,
        metadata=_collection_metadata(stamp, built_at, complete=False),
        configuration={"hnsw": {"space": "cosine"}},
        embedding_function=None,
    )
    # The nodes carry their embeddings already: the vector store takes them as they are, in one go.
    ChromaVectorStore(chroma_collection=collection).add(nodes)
    collection.modify(metadata=_collection_metadata(stamp, built_at, complete=True))
    return built_at


def _open_collection(client, name: str, stamp: Stamp, where: str) -> ReportIndex | None:
    from llama_index.vector_stores.chroma import ChromaVectorStore

    try:
        collection = client.get_collection(name, embedding_function=None)
    except Exception:
        return None
    meta = collection.metadata or {}
    if _stamp_from(meta) != stamp or not meta.get("complete") or collection.count() == 0:
        return None
    store = ChromaVectorStore(chroma_collection=collection)
    return ReportIndex(collection, store, stamp, str(meta.get("built_at", "")), where)


class _LocalStore:
    def __init__(self, settings: IndexSettings):
        self.root = Path(settings.path)
        self.prefix = settings.collection_prefix
        self.where = str(self.root)

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    @contextlib.contextmanager
    def lock(self):
        """One build at a time; a second builder waits, then finds the index built."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def open(self, stamp: Stamp) -> ReportIndex | None:
        current = self._read_pointer()
        if not current or current.get("stamp_key") != stamp.key:
            return None
        build_dir = self.root / "builds" / current["build"]
        if not (build_dir / "chroma.sqlite3").is_file():
            return None
        try:
            client = _persistent_client(build_dir)
            return _open_collection(client, current["collection"], stamp, str(build_dir))
        except Exception as exc:  # a corrupt store: report it as missing so it is rebuilt
            raise IndexUnavailable(
                f"the index at {build_dir} is unreadable ({type(exc).__name__}); run `wiring-qa index --rebuild`"
            ) from exc

    def write(self, stamp: Stamp, nodes: list, settings: IndexSettings) -> None:
        builds = self.root / "builds"
        builds.mkdir(parents=True, exist_ok=True)
        name = f"{self.prefix}-{stamp.key}"
        build = f"{name}-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        scratch = builds / f".tmp-{build}"
        client = _persistent_client(scratch)
        _fill(client, name, stamp, nodes)
        _release(client)
        os.rename(scratch, builds / build)
        self._write_pointer({"build": build, "collection": name, "stamp_key": stamp.key, "stamp": asdict(stamp)})
        self._prune(keep=build)

    def _read_pointer(self) -> dict | None:
        try:
            data = json.loads(self.pointer.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and {"build", "collection", "stamp_key"} <= data.keys() else None

    def _write_pointer(self, data: dict) -> None:
        tmp = self.pointer.with_name(f".CURRENT.{uuid.uuid4().hex}")
        tmp.write_text(json.dumps(data, sort_keys=True))
        with open(tmp) as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, self.pointer)

    def _prune(self, keep: str) -> None:
        """Remove old and interrupted builds; the live one and its predecessor stay."""
        builds = sorted((self.root / "builds").iterdir(), key=lambda p: p.stat().st_mtime, reverse=True)
        finished = [p for p in builds if not p.name.startswith(".tmp-") and p.name != keep]
        for path in finished[1:] + [p for p in builds if p.name.startswith(".tmp-")]:
            shutil.rmtree(path, ignore_errors=True)


def _persistent_client(path: Path):
    import chromadb

    return chromadb.PersistentClient(path=str(path), settings=chroma_settings())


def _release(client) -> None:
    # Chroma caches one system per path; drop it so the directory can be renamed safely.
    with contextlib.suppress(Exception):
        client._system.stop()
    with contextlib.suppress(Exception):
        from chromadb.api.shared_system_client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


class _ServerStore:
    def __init__(self, settings: IndexSettings):
        self.settings = settings
        self.prefix = settings.collection_prefix
        self.where = f"chroma://{settings.chroma_host}:{settings.chroma_port}"
        self._client = None

    @property
    def client(self):
        import chromadb

        if self._client is None:
            try:
                self._client = chromadb.HttpClient(
                    host=self.settings.chroma_host, port=self.settings.chroma_port, settings=chroma_settings()
                )
                self._client.heartbeat()
            except Exception as exc:
                self._client = None
                raise IndexUnavailable(f"Chroma server {self.where} is not reachable ({type(exc).__name__})") from exc
        return self._client

    @contextlib.contextmanager
    def lock(self):
        yield  # builds go to fresh collections; the pointer update is one atomic metadata write

    def _pointer(self):
        return self.client.get_or_create_collection(f"{self.prefix}-{POINTER_SUFFIX}", embedding_function=None)

    def open(self, stamp: Stamp) -> ReportIndex | None:
        name = (self._pointer().metadata or {}).get("collection")
        return _open_collection(self.client, name, stamp, f"{self.where}/{name}") if name else None

    def write(self, stamp: Stamp, nodes: list, settings: IndexSettings) -> None:
        name = f"{self.prefix}-{stamp.key}-{uuid.uuid4().hex[:8]}"
        _fill(self.client, name, stamp, nodes)
        self._pointer().modify(metadata={"collection": name, "stamp_key": stamp.key})
        self._prune(keep=name)

    def _prune(self, keep: str) -> None:
        """Drop old complete collections; the live one and its predecessor stay.

        A replica that started with the predecessor (two replicas building at once) keeps
        reading it; an unfinished collection belongs to a build still running.
        """
        pointer = f"{self.prefix}-{POINTER_SUFFIX}"
        finished = []
        for collection in self.client.list_collections():
            name = getattr(collection, "name", collection)
            if name in (keep, pointer) or not name.startswith(self.prefix + "-"):
                continue
            meta = self.client.get_collection(name, embedding_function=None).metadata or {}
            if meta.get("complete"):
                finished.append((str(meta.get("built_at", "")), name))
        for _, name in sorted(finished, reverse=True)[1:]:
            with contextlib.suppress(Exception):
                self.client.delete_collection(name)
