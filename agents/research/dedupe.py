"""One source, one number: the same document found by several services is numbered once, metadata merged.

Two results are the same document when they share any identifier key (`mia.identifiers`): a PubMed record
and a web result at its PubMed page (`pmid:`), a ClinicalTrials.gov record and a web result at
clinicaltrials.gov/study/NCT… (`nct:`), a Europe PMC record carrying a DOI and a doi.org link (`doi:`),
the same page with and without utm_* parameters (`url:`).
"""

from __future__ import annotations

from typing import Any

from mia.models import Source

# Which record stays the primary one when two services found the same document: the structured record.
KIND_RANK = {"trial": 0, "pubmed": 1, "europepmc": 2, "correspondence": 3, "web": 4, "file": 5}
FILLED = ("identifier", "date", "status", "sponsor", "query", "journal", "doi", "authors")


def merge(first: Source, other: Source) -> Source:
    """`first` and `other` are one document: keep the structured record's kind, URL and title, fill gaps
    from the other, keep the longer snippet, remember the other's URL and ids as aliases. The number of
    `first` is kept (it was numbered first)."""
    primary, secondary = (first, other) if KIND_RANK[first.kind] <= KIND_RANK[other.kind] else (other, first)
    data = primary.model_dump()
    for name in FILLED:
        if not data.get(name) and getattr(secondary, name):
            data[name] = getattr(secondary, name)
    if not data["phases"]:
        data["phases"] = list(secondary.phases)
    if len(secondary.snippet) > len(primary.snippet):
        data["snippet"] = secondary.snippet
    aliases = [*primary.aliases, secondary.url, *([secondary.identifier] if secondary.identifier else []),
               *secondary.aliases]
    data["aliases"] = [a for a in dict.fromkeys(aliases) if a and a != primary.url and a != primary.identifier]
    data["number"] = first.number
    return Source.model_validate(data)


class SourceIndex:
    """Finds a document by any of its keys; `add` merges a result into every known document it matches."""

    def __init__(self) -> None:
        self.slots: list[Source | None] = []  # None: merged into another slot
        self._parent: list[int] = []
        self._by_key: dict[str, int] = {}

    def _find(self, slot: int) -> int:
        while self._parent[slot] != slot:
            slot = self._parent[slot]
        return slot

    def add(self, source: Source) -> int:
        """Add `source`; returns its slot (the same slot for the same document, whichever service found it)."""
        keys = source.keys
        hits = sorted({self._find(self._by_key[k]) for k in keys if k in self._by_key})
        if not hits:
            self.slots.append(source)
            self._parent.append(len(self.slots) - 1)
            target = len(self.slots) - 1
        else:
            target = hits[0]
            merged = merge(self._get(target), source)
            for other in hits[1:]:  # the result joins documents seen apart so far: they are one
                merged = merge(merged, self._get(other))
                self.slots[other] = None
                self._parent[other] = target
            self.slots[target] = merged
        for key in keys | self._get(target).keys:
            self._by_key.setdefault(key, target)
        return target

    def _get(self, slot: int) -> Source:
        source = self.slots[self._find(slot)]
        assert source is not None
        return source

    def numbered(self) -> tuple[list[Source], dict[int, int]]:
        """The documents numbered 1.. in order of first sighting, and each slot's number."""
        sources: list[Source] = []
        number_of_root: dict[int, int] = {}
        for slot, source in enumerate(self.slots):
            if source is not None:
                sources.append(source.model_copy(update={"number": len(sources) + 1}))
                number_of_root[slot] = len(sources)
        return sources, {slot: number_of_root[self._find(slot)] for slot in range(len(self.slots))}


class NumberIndex:
    """Finds the number of an already numbered source by any of its keys (report and answer audits)."""

    def __init__(self, sources: list[Source]) -> None:
        self._by_key: dict[str, int] = {}
        for source in sources:
            if source.number is not None:
                for key in source.keys:
                    self._by_key.setdefault(key, source.number)

    def number_of(self, keys: set[str]) -> int | None:
        """The number of the source that carries any of `keys`, else None."""
        return next((self._by_key[k] for k in sorted(keys) if k in self._by_key), None)


def collate(tasks: list[tuple[int, str, str]], outputs: list[dict[str, Any] | None]
            ) -> tuple[list[Source], dict[int, list[int]]]:
    """Number the sources once each (in order of first sighting) and remember which sub-question found which."""
    index = SourceIndex()
    seen: list[tuple[int, int]] = []  # (sub-question, slot)
    for (i, _name, _query), output in zip(tasks, outputs, strict=True):
        for raw in (output or {}).get("sources", []):
            seen.append((i, index.add(Source.model_validate(raw))))
    sources, number_of = index.numbered()
    by_subq: dict[int, list[int]] = {}
    for i, slot in seen:
        number = number_of[slot]
        if number not in by_subq.setdefault(i, []):
            by_subq[i].append(number)
    return sources, by_subq


def index_of(sources: list[Source]) -> NumberIndex:
    """A NumberIndex over numbered sources."""
    return NumberIndex(sources)


def unique_queries(tasks: list[tuple[int, str, str]]) -> dict[int, int]:
    """For each task, the index of the first task with the same service and query (case and spaces aside):
    two sub-questions with the same query cost one search, not two."""
    first: dict[tuple[str, str], int] = {}
    return {n: first.setdefault((name, " ".join(query.casefold().split())), n)
            for n, (_i, name, query) in enumerate(tasks)}
