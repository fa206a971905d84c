"""Passages of a source's text and their BM25 ranking against a query (a sub-question).

A passage is a piece of one document (an abstract, a full-text section, a page of a local file) with where it
came from. `PassageIndex` ranks passages with BM25 through the `bm25s` library (Lucene's BM25 variant,
k1=1.5, b=0.75, English stop words removed). Ranking before extraction, the `file` source and the offline
evaluation corpus all use this one index.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
_TOKEN = r"(?u)\b\w\w+\b"


class Passage(BaseModel):
    """One piece of a document: `doc` names the document (a source key, URL or file name), `location` where in
    it the text stands ("abstract", a section title such as "Results", or "p. 12"), `text` the words."""

    doc: str
    location: str
    text: str


def split_passages(text: str, *, doc: str, location: str, max_chars: int = 1200) -> list[Passage]:
    """Split `text` into passages of at most about `max_chars` characters, on paragraph and then sentence bounds.

    Paragraphs are kept whole where they fit and joined while they fit; a paragraph longer than `max_chars` is cut
    between sentences (a single sentence longer than that is cut at `max_chars`). Returns [] for blank text.
    """
    if max_chars < 1:
        raise ValueError("max_chars must be positive")
    pieces: list[str] = []
    for paragraph in _PARAGRAPH.split(text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        for sentence in _SENTENCE_END.split(paragraph):
            while len(sentence) > max_chars:
                pieces.append(sentence[:max_chars])
                sentence = sentence[max_chars:]
            if sentence:
                pieces.append(sentence)
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] = f"{chunks[-1]} {piece}"
        else:
            chunks.append(piece)
    return [Passage(doc=doc, location=location, text=chunk) for chunk in chunks]


class PassageIndex:
    """A BM25 index over passages; `rank(query, k)` gives the best `k` with their scores, best first.

    Passages that share no term with the query are left out (score 0), so `rank` may return fewer than `k`.
    Building is O(total tokens); an index of 1,000 abstracts builds in well under a second.
    """

    def __init__(self, passages: Sequence[Passage]) -> None:
        self.passages = list(passages)
        self._retriever: Any = None
        if self.passages:
            import bm25s  # imported here: numpy and bm25s stay off the CLI's startup path

            corpus_tokens = bm25s.tokenize([self._words(p) for p in self.passages], token_pattern=_TOKEN,
                                           stopwords="en", show_progress=False)
            self._retriever = bm25s.BM25()
            self._retriever.index(corpus_tokens, show_progress=False)

    def __len__(self) -> int:
        return len(self.passages)

    @staticmethod
    def _words(passage: Passage) -> str:
        # The location takes part in matching too: a section titled "Adverse events" is evidence of what it holds.
        return f"{passage.location} {passage.text}"

    def rank(self, query: str, k: int = 8) -> list[tuple[Passage, float]]:
        """The `k` passages that best match `query` (BM25 score > 0), best first, as (passage, score)."""
        if self._retriever is None or k < 1:
            return []
        import bm25s

        query_tokens = bm25s.tokenize([query], token_pattern=_TOKEN, stopwords="en", return_ids=False,
                                      show_progress=False)
        if not query_tokens[0]:
            return []
        # Terms the corpus never saw are dropped by bm25s; a query made only of them matches nothing.
        known = [t for t in query_tokens[0] if t in self._retriever.vocab_dict]
        if not known:
            return []
        docs, scores = self._retriever.retrieve([known], k=min(k, len(self.passages)), show_progress=False)
        ranked = [(self.passages[int(i)], float(s)) for i, s in zip(docs[0], scores[0], strict=True) if s > 0]
        return ranked
