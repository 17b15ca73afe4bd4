"""The naive LlamaIndex starter pipeline, as a baseline scored by the same harness as wiring-qa.

What a user gets from the LlamaIndex starter tutorial, minus the LLM:

- the whole report file as one ``Document`` (the file's own text, so chunk offsets are file offsets);
- ``SentenceSplitter()`` with its defaults (chunk_size=1024, chunk_overlap=200);
- the same MiniLM embeddings as wiring-qa, an in-memory ``VectorStoreIndex``;
- ``as_retriever(similarity_top_k=2)``.

Its answer is the two retrieved chunks, one after the other, each followed by the [id] markers of the
records it overlaps (as the starter lists source nodes after a response). It never refuses and ignores
the chat history (the starter's query engine has no memory). Its citations are one per (chunk, record)
pair with the whole chunk as the quote, so they are rarely verbatim in one record: that is its honest
score. Its ranked sources are the records overlapping chunk 1, in report order, then those of chunk 2.

The splitter counts tokens with tiktoken (cl100k_base); llama_index ships that encoding in
``llama_index/core/_static/tiktoken_cache`` and points TIKTOKEN_CACHE_DIR there, so nothing is downloaded.
"""

from __future__ import annotations

import time

from assistant.types import Answer, Citation, Source
from index.embed import load_embedding
from index.records import Record
from index.report import load_report

SIMILARITY_TOP_K = 2


class NaiveBaseline:
    """The starter pipeline over the report: two 1024-token chunks as the answer, never a refusal."""

    name = "naive-baseline"

    def __init__(self, records: list[Record] | None = None, source: str | None = None):
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        if records is None or source is None:
            report = load_report()
            records, source = report.records, report.source
        self.records = sorted(records, key=lambda r: r.order)
        self.source = source
        self.by_id = {r.id: r for r in self.records}
        document = Document(text=source)
        self.index = VectorStoreIndex.from_documents(
            [document], transformations=[SentenceSplitter()], embed_model=load_embedding()
        )
        self.retriever = self.index.as_retriever(similarity_top_k=SIMILARITY_TOP_K)

    def ask(self, question: str, history: list | None = None, top_k: int | None = None) -> Answer:
        """The retrieved chunks as the answer; history and top_k are ignored, as in the starter."""
        started = time.perf_counter()
        found = self.retriever.retrieve(question)
        parts, citations, sources = [], [], []
        for hit in found:
            node = hit.node
            text = node.get_content()
            start, end = self._offsets(text, node.start_char_idx, node.end_char_idx)
            ids = self.overlapping(start, end)
            parts.append(text + " " + " ".join(f"[{rid}]" for rid in ids))
            citations += [Citation(id=rid, quote=text, start=start, end=end) for rid in ids]
            sources += [Source(rid, self.by_id[rid].text, float(hit.score or 0.0)) for rid in ids]
        sources = [s for i, s in enumerate(sources) if s.id not in {t.id for t in sources[:i]}]
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(
            text="\n\n".join(parts),
            refused=False,
            citations=citations,
            sources=sources,
            answerer=self.name,
            timings_ms={"total": elapsed},
        )

    def overlapping(self, start: int, end: int) -> list[str]:
        """Ids of the records whose source span overlaps [start, end), in report order."""
        return [r.id for r in self.records if r.start < end and r.end > start]

    def _offsets(self, text: str, start: int | None, end: int | None) -> tuple[int, int]:
        """The chunk's offsets in the source; found by search when the splitter did not record them."""
        if start is not None and end is not None:
            return start, end
        at = self.source.find(text)
        return (at, at + len(text)) if at >= 0 else (0, 0)
