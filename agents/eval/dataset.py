"""The PubMedQA (PQA-L) questions shipped with mia: 1,000 items with real PMIDs, split into test and dev."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from mia.errors import UsageError

DATA_FILE = "pubmedqa_pqal.json.gz"
SPLITS = ("test", "dev")
LABELS = ("yes", "no", "maybe")


@dataclass(frozen=True)
class Item:
    """One labelled question: `label` is yes, no or maybe; `contexts` are (label, text) abstract paragraphs."""

    pmid: str
    split: str
    question: str
    contexts: tuple[tuple[str, str], ...]
    conclusion: str
    label: str
    year: str | None

    @property
    def abstract(self) -> str:
        """The abstract without its conclusion, each paragraph led by its label (BACKGROUND: ...)."""
        return " ".join(f"{label}: {text}" if label else text for label, text in self.contexts)


@cache
def load_items() -> tuple[Item, ...]:
    """All 1,000 items: the test split first (official order), then dev. Read from the package, never downloaded."""
    raw = resources.files("mia.agents.eval").joinpath("data", DATA_FILE).read_bytes()
    body = json.loads(gzip.decompress(raw))
    return tuple(Item(pmid=i["pmid"], split=i["split"], question=i["question"],
                      contexts=tuple((c["label"], c["text"]) for c in i["contexts"]), conclusion=i["conclusion"],
                      label=i["label"], year=i.get("year")) for i in body["items"])


def select(split: str, n: int) -> list[Item]:
    """The first `n` items of `split` (test or dev) in a fixed pseudo-random order (by SHA-256 of the PMID), so two
    runs ask the same questions and any first `n` is a fair sample: the official test file lists its items
    grouped by label (its first 50 are all "yes").

    Raises UsageError for an unknown split or an `n` outside 1..size of the split.
    """
    if split not in SPLITS:
        raise UsageError(f"Unknown split '{split}'.", "Choose --split test (for figures) or --split dev "
                                                      "(for developing prompts).")
    items = sorted((item for item in load_items() if item.split == split),
                   key=lambda item: hashlib.sha256(item.pmid.encode()).hexdigest())
    if not 1 <= n <= len(items):
        raise UsageError(f"--n must be between 1 and {len(items)} for the {split} split (got {n}).",
                         "Example: --n 50")
    return items[:n]
