"""Settings for the index: where it lives and how records are cut for embedding."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_cache_dir
from pydantic import BaseModel, Field

REPORT_FILE = Path(__file__).resolve().parent / "data" / "wiring-it-up-progress-report.txt"
REPORT_SHA256 = "b7f2d1040ae7e52dc7c2ad0643ea5f8cf4170f04e92cc4b8732572a617a13593"


def default_index_dir() -> Path:
    return Path(user_cache_dir("wiring-qa")) / "index"


class IndexSettings(BaseModel):
    """Where the index lives and how it is built."""

    path: Path = Field(default_factory=default_index_dir, description="Directory of the local Chroma index.")
    report_path: Path = Field(REPORT_FILE, description="The report text the index is built from.")
    chroma_host: str | None = Field(None, description="Chroma server host; with chroma_port, use the server.")
    chroma_port: int | None = Field(None, description="Chroma server port.")
    collection_prefix: str = Field("wiring-qa", description="Prefix of the Chroma collection names.")
    window_tokens: int = Field(
        200, ge=32, le=256, description="Word pieces per embedded window; MiniLM reads at most 256."
    )
    vectors_path: Path | None = Field(
        default_factory=lambda: os.environ.get("WIRING_QA_INDEX__VECTORS_PATH") or None,
        description="Folder of the cached vectors (keyed by text and model); unset: 'vectors' inside `path`. "
        "Several index folders may share one.",
    )

    @property
    def vectors_folder(self) -> Path:
        return Path(self.vectors_path) if self.vectors_path else Path(self.path) / "vectors"

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host and self.chroma_port)
