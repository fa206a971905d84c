"""Pydantic models shared across layers: sources, evidence, usage."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

SourceKind = Literal["web", "pubmed", "europepmc", "trial", "correspondence", "file"]


class Source(BaseModel):
    """One retrieved document. `number` is assigned when the run's source list is built."""

    kind: SourceKind
    url: str
    title: str
    identifier: str | None = None  # PMID, PMCID/DOI, NCT id
    date: str | None = None
    snippet: str = ""
    number: int | None = None  # the number cited in the report (first appearance first)
    retrieved: int | None = None  # the order in which the run retrieved it (set when renumbered)
    # Trial-only facts, used by digests and change notes.
    status: str | None = None
    phases: list[str] = Field(default_factory=list)
    sponsor: str | None = None
    query: str | None = None
    # Bibliographic facts for citing and exporting (papers; empty when the service gives none).
    authors: list[str] = Field(default_factory=list)  # "Last Initials", in the order the article lists them
    journal: str | None = None
    doi: str | None = None
    # Other identifiers of the same document (a DOI or PMCID beside the PMID; a URL it was also found at).
    aliases: list[str] = Field(default_factory=list)
    # Study design and status: PubMed / Europe PMC publication types ("Randomized Controlled Trial",
    # "Meta-Analysis", "Retracted Publication", ...), a retraction flag, and a trial's enrolment and study type.
    publication_types: list[str] = Field(default_factory=list)
    retracted: bool = False
    enrollment: int | None = None
    enrollment_type: str | None = None  # ACTUAL or ESTIMATED
    study_type: str | None = None  # INTERVENTIONAL, OBSERVATIONAL, EXPANDED_ACCESS

    @property
    def keys(self) -> set[str]:
        """Every identifier key of this document (see `mia.identifiers`): URL, PMID, PMCID, DOI, NCT id."""
        from mia.identifiers import document_keys

        identifiers = [] if self.kind == "correspondence" else [self.identifier]
        keys = document_keys(url=self.url, identifiers=[*identifiers, self.doi, *self.aliases])
        if self.identifier and self.kind not in ("pubmed", "europepmc", "trial", "web"):
            keys.add(f"{self.kind}:{self.identifier.lower()}")
        if self.kind == "file":  # a page of the person's own document: file:///…/files/NAME#page=N
            keys.add(f"file:{self.url}")
        return keys

    @property
    def dedupe_key(self) -> str:
        """The one key that names this document best (an NCT id or PMID beats a DOI, which beats a URL)."""
        from mia.identifiers import strongest

        return strongest(self.keys) or "url:" + self.url.rstrip("/").lower()


class Usage(BaseModel):
    """What one remote call cost."""

    service: str
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    neurons: float = 0.0
    cost_usd: float = 0.0
    latency_ms: int = 0
    requests: int = 1
    estimated: bool = False  # tokens guessed from the text: the service reported no usage (e.g. a stream without it)


class Claim(BaseModel):
    """A piece of evidence: a claim, the source number it comes from, and a short quote."""

    claim: str
    source: int
    quote: str = ""
