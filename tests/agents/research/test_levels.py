"""Evidence levels: design and status per source; a retracted article never supports a claim."""

from __future__ import annotations

from mia.agents.research.levels import (
    design_of,
    evidence_label,
    retraction_notice,
    uncite_retracted,
    withhold_retracted,
)
from mia.agents.research.prompts import SYNTH_SYSTEM, source_line
from mia.agents.research.report import source_entry
from mia.models import Source


def paper(n: int, *types: str, retracted: bool = False, kind: str = "pubmed") -> Source:
    return Source(kind=kind, url=f"https://pubmed.ncbi.nlm.nih.gov/{n}/", title=f"Paper {n}", identifier=str(n),
                  number=n, publication_types=list(types), retracted=retracted)


def test_the_strongest_publication_type_names_the_design() -> None:
    assert design_of(paper(1, "Journal Article", "Review", "Meta-Analysis")) == "meta-analysis"
    assert design_of(paper(2, "Clinical Trial, Phase III", "Randomized Controlled Trial")) == \
        "randomised controlled trial"
    assert design_of(paper(3, "Journal Article", "Clinical Trial, Phase II")) == "clinical trial, phase 2"
    assert design_of(paper(4, "Case Reports")) == "case report"
    assert design_of(paper(5, "Preprint", kind="europepmc")) == "preprint"
    assert design_of(paper(6, "Journal Article")) is None


def test_a_trial_shows_type_phase_status_and_enrolment() -> None:
    trial = Source(kind="trial", url="https://clinicaltrials.gov/study/NCT1", title="T", identifier="NCT1",
                   status="RECRUITING", phases=["PHASE2", "PHASE3"], study_type="INTERVENTIONAL", enrollment=120,
                   enrollment_type="ESTIMATED", number=7)
    assert evidence_label(trial) == "interventional trial, phase 2/phase 3; recruiting; 120 to enrol, estimated"
    done = trial.model_copy(update={"status": "COMPLETED", "enrollment_type": "ACTUAL"})
    assert "120 enrolled" in source_entry(done) and "Phase 2, Phase 3" in source_entry(done)


def test_retracted_articles_are_flagged_for_the_model_and_the_reader() -> None:
    bad = paper(9, "Journal Article", "Retracted Publication", retracted=True)
    assert source_line(bad).endswith("— evidence: RETRACTED")
    assert source_entry(bad).split(" — ")[1].startswith("**Retracted**; PubMed; PMID 9")
    assert "RETRACTED supports nothing" in SYNTH_SYSTEM and "meta-analyses" in SYNTH_SYSTEM


def test_claims_from_a_retracted_article_are_withheld_and_a_notice_says_so() -> None:
    sources = [paper(1, "Randomized Controlled Trial"), paper(2, retracted=True)]
    claims = [{"claim": "a", "source": 1, "quote": "q"}, {"claim": "b", "source": 2, "quote": "q"}]
    kept, withheld = withhold_retracted(claims, sources)
    assert [c["claim"] for c in kept] == ["a"] and withheld == [{**claims[1], "withheld": "retracted"}]
    notice = retraction_notice(sources, len(withheld))
    assert notice is not None and "PMID 2" in notice and "1 claim(s) drawn from them were left out" in notice
    assert retraction_notice([paper(1)], 0) is None


def test_a_citation_of_a_retracted_article_is_taken_out_and_marked_as_such() -> None:
    sources = [paper(1), paper(2, retracted=True)]
    body, removed = uncite_retracted("Works [2]. Also [1, 2]. And [1].", sources)
    assert body == "Works *(citation removed: retracted article)*. Also [1]. And [1]." and removed == 2
