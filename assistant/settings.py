"""One typed settings object, read from WIRING_QA_* environment variables.

Nested parts use a double underscore: ``WIRING_QA_INDEX__PATH=/srv/wqa``,
``WIRING_QA_INDEX__CHROMA_HOST=127.0.0.1``, ``WIRING_QA_APP__PORT=7861``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from index.settings import IndexSettings


class RetrievalSettings(BaseModel):
    """How records are found."""

    top_k: int = Field(8, ge=1, le=50, description="Ranked sources returned with an answer.")
    dense_k: int = Field(30, ge=1, le=300, description="Candidates from the dense (Chroma) search.")
    bm25_k: int = Field(30, ge=1, le=300, description="Candidates from the BM25 search.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    rare_name_records: int = Field(
        3,
        ge=0,
        description="A name the question uses counts as a third ranking when at most this many records hold it.",
    )
    rerank_depth: int = Field(
        30, ge=1, le=300, description="Fused candidates the fitted record ranker reorders; the rest keep their order."
    )
    blas_threads: int = Field(
        1,
        ge=1,
        description="NumPy's BLAS threads in a process that answers (the index build's torch threads are apart).",
    )


class AnswerSettings(BaseModel):
    """How answers are composed."""

    answerer: Literal["grounded", "llm"] = Field("grounded", description="grounded (offline) or llm (endpoint).")
    cached_answers: int = Field(
        1024,
        ge=0,
        description="Grounded answers kept for a question asked again with the same history (0: none kept).",
    )
    max_sentences: int = Field(
        4,
        ge=1,
        le=12,
        description="Sentences a grounded answer picks; each may bring the sentence it leans on and its list items.",
    )
    answer_records: int = Field(6, ge=1, le=30, description="Top-ranked records whose sentences may answer.")
    answer_candidates: int = Field(
        20, ge=1, le=200, description="Best-scored sentences a further answer sentence is chosen among."
    )
    sentence_min_p: float = Field(
        0.15, ge=0, le=1, description="A further sentence joins the answer only if the sentence model gives it this."
    )
    sentence_keep_ratio: float = Field(
        0.3, ge=0, le=1, description="... and at least this share of the best sentence's probability."
    )
    rare_word_records: int = Field(
        4,
        ge=0,
        description="A word used by at most this many records names a particular thing; in a conversation, a "
        "question with no such word, no name and no record number is read as a follow-up (0: off).",
    )
    fresh_share: float = Field(
        0.15,
        ge=0,
        le=1,
        description="A further sentence also joins when it covers this share of the question's weighted words "
        "that the answer so far leaves out (a question with two parts gets both).",
    )
    progress_sentences: int = Field(
        8, ge=1, le=30, description="Progress paragraphs (one sentence each) most for a conclusion asked about alone."
    )
    conclusions_at_once: int = Field(
        3, ge=1, le=42, description="Conclusions a question naming several is answered for."
    )
    routed_openings: int = Field(
        8, ge=1, le=60, description="Records named by a range or a table whose opening sentences an answer gives."
    )
    list_items: int = Field(12, ge=1, le=60, description="Items a sentence that introduces a list brings with it.")
    context_after: int = Field(
        3, ge=0, le=10, description="Sentences after a picked one that may supply the figure, date or list it lacks."
    )
    repeat_share: float = Field(
        0.75,
        ge=0,
        le=1,
        description="A sentence sharing this share of its words with one already picked, and no new name or "
        "figure, is a repeat and left out.",
    )
    refusal_nearest: int = Field(3, ge=0, le=10, description="Nearest paragraphs a refusal lists for checking.")
    models_dir: Path | None = Field(
        None, description="Folder of the fitted model files; unset means the ones shipped in assistant/models/."
    )
    fitted: bool = Field(True, description="Read the fitted models; off only while eval/fit.py fits them anew.")
    max_question_chars: int = Field(2000, ge=10, le=20000, description="Longer questions are refused as bad input.")


class SuggestSettings(BaseModel):
    """The next questions offered under an answer, each asked first and shown only when answered."""

    shown: int = Field(3, ge=0, le=6, description="Suggestions shown under an answer at most.")
    checks: int = Field(10, ge=0, le=30, description="Candidates asked of the assistant per answer at most.")
    name_records: int = Field(
        6, ge=1, description="A name or heading more records share is too general to suggest asking about."
    )
    topic_chars: int = Field(60, ge=10, description="A longer heading is a sentence, not a topic to ask about.")


class ConversationSettings(BaseModel):
    """How a follow-up is read in its conversation."""

    self_contained_words: int = Field(
        9, ge=1, le=100, description="A follow-up with this many content words is read along, never rewritten."
    )
    earlier_words: int = Field(
        12, ge=0, le=100, description="Words of the turn a follow-up leans on that its search text also reads."
    )
    subject_words: int = Field(
        6, ge=1, le=30, description="Words a subject without a name keeps (shown in 'Understood as: … after …')."
    )
    phrase_words: int = Field(5, ge=1, le=30, description="Longest run of plain words taken as a subject phrase.")


class LLMSettings(BaseModel):
    """An optional OpenAI-compatible chat endpoint."""

    base_url: str | None = Field(None, description="e.g. http://127.0.0.1:8080/v1; unset means no LLM.")
    model: str = Field("local", description="Model name sent to the endpoint.")
    api_key_env: str = Field("WIRING_QA_LLM_API_KEY", description="Env var that holds the API key, if any.")
    timeout_s: float = Field(20.0, gt=0, description="Seconds before the grounded answer is used instead.")
    max_tokens: int = Field(400, ge=16, description="Longest generated answer.")
    max_sentences: int = Field(4, ge=1, le=12, description="Sentences the prompt asks the model for at most.")
    min_word_share: float = Field(
        0.6,
        ge=0,
        le=1,
        description="A generated sentence is kept only if one sentence of its cited record (the one quoted) holds "
        "its figures and this share of its words, word for word.",
    )


class AppSettings(BaseModel):
    """The Gradio chat."""

    host: str = Field("127.0.0.1", description="Listen address; loopback unless told otherwise.")
    port: int = Field(7860, ge=0, le=65535, description="Listen port.")
    auth_user: str | None = Field(None, description="Basic auth user; with auth_password, auth is on.")
    auth_password: str | None = Field(None, description="Basic auth password.")
    concurrency: int = Field(4, ge=1, description="Questions answered at once.")


class Settings(BaseSettings):
    """Everything wiring-qa can be told."""

    model_config = SettingsConfigDict(env_prefix="WIRING_QA_", env_nested_delimiter="__", extra="ignore")

    index: IndexSettings = Field(default_factory=IndexSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    answer: AnswerSettings = Field(default_factory=AnswerSettings)
    conversation: ConversationSettings = Field(default_factory=ConversationSettings)
    suggest: SuggestSettings = Field(default_factory=SuggestSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    app: AppSettings = Field(default_factory=AppSettings)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings from the environment, read once."""
    return Settings()
