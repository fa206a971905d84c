"""A small, deterministic research corpus about Duchenne muscular dystrophy (DMD) and gene therapy.

EVERYTHING HERE IS FICTIONAL test data: PMIDs (9901xxxx), NCT ids (NCT990000xx), DOIs (10.5555 test
prefix), products (FX-101, vexarsen-51, HBT-220, ...), sponsors, journals, authors and every number were
invented for mia's tests. None of it is medical information.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

STOPWORDS = frozenset({
    "the", "and", "for", "with", "from", "that", "this", "are", "was", "were", "not", "but", "into",
    "over", "under", "between", "what", "which", "who", "how", "why", "when", "where", "about", "latest",
    "recent", "new", "news", "study", "studies", "trial", "trials", "clinical", "review", "evidence",
    "update", "updates", "results", "data", "research", "paper", "papers", "article", "articles", "all",
    "any", "its", "their", "has", "have", "had", "been", "can", "does", "did", "use", "using", "used",
    "via", "than", "then", "also", "more", "most", "other", "such", "these", "those", "there", "here",
    "patient", "patients", "mesh", "terms", "fields", "tiab", "majr", "title", "abstract", "pdat",
    "filter", "year", "pub", "type",
})


def query_tokens(query: str) -> list[str]:
    """Lower-case search tokens of at least 3 letters that are not stopwords or bare numbers, in order."""
    seen: dict[str, None] = {}
    for token in re.findall(r"[a-z0-9]+", query.lower()):
        if len(token) >= 3 and token not in STOPWORDS and not token.isdigit():
            seen.setdefault(token)
    return list(seen)


def rank(items: Iterable[T], query: str, text_of: Callable[[T], str], n: int | None = None) -> list[T]:
    """Items containing at least one query token, most matching tokens first, corpus order on ties."""
    tokens = query_tokens(query)
    scored = []
    for index, item in enumerate(items):
        text = text_of(item).lower()
        score = sum(1 for token in tokens if token in text)
        if score:
            scored.append((-score, index, item))
    scored.sort(key=lambda entry: entry[:2])
    found = [item for _, _, item in scored]
    return found if n is None else found[:n]


@dataclass
class Article:
    """A PubMed record; abstract sections are (label, text) pairs, label "" for an unstructured abstract."""

    pmid: str
    title: str
    journal: str
    year: int
    month: str
    authors: list[tuple[str, str]]  # (last name, fore name); fore name "" marks a collective (group) author
    abstract: list[tuple[str, str]]
    doi: str = ""
    pmcid: str = ""
    volume: str = ""
    issue: str = ""
    pages: str = ""
    pub_types: tuple[str, ...] = ("Journal Article",)  # PubMed publication types, e.g. "Retracted Publication"
    retraction_in: str = ""  # PMID of the retraction notice (CommentsCorrections RefType="RetractionIn")
    full_text: tuple[tuple[str, str], ...] = ()  # (section title, text) of the open full text; () = from abstract
    medline_date: str = ""  # set for an irregular issue: PubDate carries only <MedlineDate> (e.g. "2024 Nov-Dec")

    def text(self) -> str:
        """Everything search matches against."""
        return " ".join([self.title, *(text for _, text in self.abstract)])


@dataclass
class EuropePMCRecord:
    """A Europe PMC search record (source MED, PMC or PPR for preprints)."""

    id: str
    source: str
    title: str
    author_string: str
    journal: str  # "" for preprints, which carry no journalInfo
    pub_year: int
    first_publication_date: str
    abstract_html: str
    pmid: str = ""
    pmcid: str = ""
    doi: str = ""
    open_access: bool = False
    cited_by: int = 0
    pub_types: tuple[str, ...] = ()  # pubTypeList.pubType; empty: none sent (preprints get "Preprint")

    def text(self) -> str:
        """Everything search matches against."""
        return f"{self.title} {re.sub(r'<[^>]+>', ' ', self.abstract_html)}"


@dataclass
class Trial:
    """A ClinicalTrials.gov study; phases is empty for observational studies."""

    nct_id: str
    status: str
    phases: list[str]
    sponsor: str
    brief_title: str
    official_title: str
    conditions: list[str]
    summary: str
    interventions: list[str] = field(default_factory=list)
    start_date: str = "2023-01"
    last_update: str = "2025-06-01"
    enrollment: int = 40
    study_type: str = "INTERVENTIONAL"
    has_results: bool = False

    def text(self) -> str:
        """Everything search matches against."""
        return " ".join([self.brief_title, self.official_title, self.summary, *self.conditions,
                         *self.interventions])


@dataclass
class WebResult:
    """A Perplexity Search API result."""

    title: str
    url: str
    snippet: str
    date: str | None = None
    last_updated: str | None = None

    def text(self) -> str:
        """Everything search matches against."""
        return f"{self.title} {self.snippet}"


@dataclass
class Corpus:
    """The mutable data set behind the fake services; a fresh copy of the default data unless told."""

    pubmed: list[Article] = field(default_factory=lambda: copy.deepcopy(PUBMED))
    europepmc: list[EuropePMCRecord] = field(default_factory=lambda: _default_europepmc())
    trials: list[Trial] = field(default_factory=lambda: copy.deepcopy(TRIALS))
    web: list[WebResult] = field(default_factory=lambda: copy.deepcopy(WEB))

    @classmethod
    def empty(cls) -> Corpus:
        """A corpus in which every search finds nothing."""
        return cls(pubmed=[], europepmc=[], trials=[], web=[])

    def search_pubmed(self, query: str, n: int | None = None) -> list[Article]:
        """PubMed articles matching the query, best first."""
        return rank(self.pubmed, query, Article.text, n)

    def search_europepmc(self, query: str, n: int | None = None) -> list[EuropePMCRecord]:
        """Europe PMC records matching the query, best first."""
        return rank(self.europepmc, query, EuropePMCRecord.text, n)

    def search_trials(self, query: str, n: int | None = None) -> list[Trial]:
        """Trials matching the query, best first."""
        return rank(self.trials, query, Trial.text, n)

    def search_web(self, query: str, n: int | None = None) -> list[WebResult]:
        """Web results matching the query, best first."""
        return rank(self.web, query, WebResult.text, n)

    def article(self, pmid: str) -> Article | None:
        """The PubMed article with this PMID, if any."""
        return next((a for a in self.pubmed if a.pmid == pmid), None)

    def by_pmcid(self, pmcid: str) -> Article | None:
        """The PubMed article whose full text is open in PMC under this PMCID, if any."""
        return next((a for a in self.pubmed if a.pmcid and a.pmcid.upper() == pmcid.upper()), None)

    def trial(self, nct_id: str) -> Trial | None:
        """The trial with this NCT id, if any."""
        return next((t for t in self.trials if t.nct_id == nct_id), None)

    def add_pubmed(self, article: Article, *, also_europepmc: bool = False) -> Article:
        """Add a paper (first in order, as a newly indexed one), optionally to Europe PMC too."""
        self.pubmed.insert(0, article)
        if also_europepmc:
            self.europepmc.insert(0, europepmc_from_article(article))
        return article

    def add_europepmc(self, record: EuropePMCRecord) -> EuropePMCRecord:
        """Add a Europe PMC record."""
        self.europepmc.insert(0, record)
        return record

    def add_trial(self, trial: Trial) -> Trial:
        """Add a trial."""
        self.trials.insert(0, trial)
        return trial

    def add_web(self, result: WebResult) -> WebResult:
        """Add a web result."""
        self.web.insert(0, result)
        return result

    def add_cross_service_duplicates(self) -> list[str]:
        """The same documents found again by web search, the ways real search results repeat them: a PubMed
        record at its PubMed page, a trial at clinicaltrials.gov/study/NCT…, a Europe PMC record with a DOI
        at doi.org, a web page again with utm_* parameters. Returns the duplicate URLs."""
        article, trial = self.pubmed[0], self.trials[0]
        with_doi = next(r for r in self.europepmc if r.doi)
        page = next(w for w in self.web if "utm_" not in w.url)
        dupes = [
            WebResult(article.title, f"https://pubmed.ncbi.nlm.nih.gov/{article.pmid}/", article.text()[:300]),
            WebResult(trial.brief_title, f"https://www.clinicaltrials.gov/study/{trial.nct_id}", trial.summary),
            WebResult(with_doi.title, f"https://doi.org/{with_doi.doi.upper()}", with_doi.text()[:300]),
            WebResult(page.title, page.url.rstrip("/") + "/?utm_source=newsletter&utm_medium=email", page.snippet),
        ]
        self.web[:0] = dupes
        return [d.url for d in dupes]


def author_string(article: Article) -> str:
    """Europe PMC style "Last FI, Last FI." author string."""
    names = [f"{last} {''.join(p[0] for p in fore.split())}".strip() for last, fore in article.authors]
    return ", ".join(names) + "."


def europepmc_from_article(article: Article, *, open_access: bool = False,
                           cited_by: int = 0) -> EuropePMCRecord:
    """The Europe PMC view of a PubMed article; structured abstracts get <h4> section headings."""
    html = "".join(f"<h4>{label.title()}</h4>{text}" if label else text for label, text in article.abstract)
    month = "JanFebMarAprMayJunJulAugSepOctNovDec".index(article.month) // 3 + 1
    return EuropePMCRecord(
        id=article.pmid, source="MED", title=article.title, author_string=author_string(article),
        journal=article.journal, pub_year=article.year,
        first_publication_date=f"{article.year}-{month:02d}-15",
        abstract_html=html, pmid=article.pmid, pmcid=article.pmcid, doi=article.doi,
        open_access=open_access or bool(article.pmcid), cited_by=cited_by, pub_types=article.pub_types)


def _default_europepmc() -> list[EuropePMCRecord]:
    """Five records shared with PubMed plus three found only in Europe PMC."""
    by_id = {a.pmid: a for a in PUBMED}
    shared = [europepmc_from_article(by_id[pmid], cited_by=cites)
              for pmid, cites in (("99010001", 41), ("99010003", 17), ("99010004", 9), ("99010005", 22),
                                  ("99010009", 5))]
    return [*shared, *copy.deepcopy(EUROPEPMC_ONLY)]


def _a(pmid: str, title: str, journal: str, date: str, authors: str, abstract: list[tuple[str, str]],
       doi: str = "", pmcid: str = "", cite: str = "") -> Article:
    """Compact Article constructor: date "2024 Mar", authors "Last, Fore; ...", cite "vol(issue):pages"."""
    year, month = date.split()
    people = []
    for name in authors.split(";"):
        last, _, fore = name.partition(",")
        people.append((last.strip(), fore.strip()))
    parts = re.fullmatch(r"(\w*)\((\w*)\):(\S*)", cite)
    volume, issue, pages = parts.groups() if parts else ("", "", "")
    return Article(pmid, title, journal, int(year), month, people, abstract, doi=doi, pmcid=pmcid,
                   volume=volume, issue=issue, pages=pages)


PUBMED: list[Article] = [
    _a("99010001",
       "Micro-dystrophin gene transfer with FX-101 in ambulatory boys with Duchenne muscular dystrophy: a"
       " randomized, placebo-controlled phase 3 trial",
       "Journal of Neuromuscular Therapeutics", "2024 Mar",
       "Okafor, Adaeze; Lindqvist, Henrik; Moreau, Camille; FX-101 Study Group",
       [("BACKGROUND",
         "FX-101 is an investigational AAVrh74 vector encoding a micro-dystrophin for Duchenne muscular"
         " dystrophy (DMD)."),
        ("METHODS",
         "126 ambulatory boys aged 4 to 7 years were randomized 1:1 to a single infusion of FX-101 (1.33 x"
         " 10^14 vg/kg) or placebo. The primary end point was the change in North Star Ambulatory Assessment"
         " (NSAA) total score at week 52."),
        ("RESULTS",
         "The NSAA score changed by 2.6 points with FX-101 and 1.9 points with placebo (difference 0.7; 95%"
         " CI -0.2 to 1.6; P=0.14). Micro-dystrophin expression at week 12 averaged 54.2% of normal. Serious"
         " adverse events occurred in 9 of 63 treated boys (14%), including 3 cases of myositis."),
        ("CONCLUSIONS",
         "FX-101 produced robust micro-dystrophin expression but did not significantly improve motor"
         " function at 52 weeks.")],
       doi="10.5555/jnt.2024.0311", cite="12(3):201-214"),
    _a("99010002",
       "Four-year outcomes after FX-101 micro-dystrophin gene therapy in Duchenne muscular dystrophy:"
       " open-label phase 1/2 extension",
       "Gene Therapy Reports", "2025 Jan",
       "Lindqvist, Henrik; Batbayar, Enkhjin; Rossi, Giulia",
       [("",
         "Eighteen boys treated with FX-101 were followed for 4 years. Mean NSAA scores were 4.1 points"
         " higher than in a propensity-matched natural-history cohort (n=54). Time to rise from the floor"
         " was stable in 11 of 18 participants. No new safety signals emerged after the first year; vector"
         " genomes persisted in all repeat biopsies.")],
       doi="10.5555/gtr.2025.0107", pmcid="PMC9900101", cite="8(1):33-41"),
    _a("99010003",
       "Exon 51 skipping with vexarsen-51 restores dystrophin to <5% of normal: a 48-week open-label study",
       "Muscle & Nerve Letters", "2023 Sep",
       "Nakamura, Haruto; Fischer, Lena; Adeyemi, Tunde",
       [("OBJECTIVE",
         "To measure dystrophin restoration with the phosphorodiamidate morpholino oligomer vexarsen-51 in"
         " Duchenne muscular dystrophy amenable to exon 51 skipping."),
        ("METHODS",
         "Twenty-four boys received weekly 30 mg/kg infusions for 48 weeks."),
        ("RESULTS",
         "Western blot dystrophin rose from 0.9% to 4.3% of normal (P<0.001); exon skipping was confirmed"
         " by RT-PCR in 23 of 24 participants. Proteinuria occurred in 2 participants."),
        ("CONCLUSIONS",
         "Vexarsen-51 increases dystrophin, but levels remain below 5% of normal.")],
       doi="10.5555/mnl.2023.0904", cite="41(9):877-885"),
    _a("99010004",
       "Seroprevalence of neutralizing antibodies to AAVrh74 and AAV9 in boys with Duchenne muscular"
       " dystrophy screened for gene therapy",
       "Annals of Translational Myology", "2024 Jun",
       "Haddad, Rania; Kowalski, Piotr; Smith, Jordan",
       [("BACKGROUND",
         "Pre-existing antibodies to the capsid exclude patients from AAV gene therapy."),
        ("METHODS",
         "Sera from 1,032 boys screened across 14 centres were tested at a 1:400 titre threshold."),
        ("RESULTS",
         "14.6% were seropositive for AAVrh74 and 21.3% for AAV9; seropositivity rose with age (9.8% at 4-5"
         " years versus 19.7% at 10-12 years)."),
        ("CONCLUSIONS",
         "About one in seven boys would be ineligible for AAVrh74-based therapy.")],
       doi="10.5555/atm.2024.0612", pmcid="PMC9900104", cite="5(2):88-97"),
    _a("99010005",
       "Myositis and thrombotic microangiopathy after high-dose AAV gene therapy for Duchenne muscular"
       " dystrophy: a case series",
       "Pediatric Neurology Open", "2025 Apr",
       "Moreau, Camille; Oyelaran, Funmi; Weber, Tobias",
       [("",
         "We describe 7 boys who developed immune-mediated myositis (n=4) or thrombotic microangiopathy"
         " (n=3) 3 to 8 weeks after systemic AAV gene therapy. The 4 boys with myositis carried deletions in"
         " <i>DMD</i> exons 8-11, suggesting a T-cell response to the transgene. All recovered after"
         " immunosuppression or eculizumab-class complement inhibition; one required dialysis for 12 days.")],
       doi="10.5555/pno.2025.0402", cite="3(4):e000219"),
    _a("99010006",
       "CRISPR-Cas9 deletion of DMD exons 45-55 restores dystrophin in a humanized mdx mouse model",
       "Gene Therapy Reports", "2024 Nov",
       "Zhang, Wei; Petrova, Anastasia; Oduya, Samuel",
       [("BACKGROUND",
         "Deleting exons 45-55 could treat about 40% of DMD mutations with one editing strategy."),
        ("RESULTS",
         "A dual AAV9 vector delivering SaCas9 and two guides restored dystrophin to 38% of wild-type"
         " levels in the tibialis anterior and 21% in the heart 12 weeks after injection; specific force"
         " improved by 29%. Off-target editing was below 0.1% at 12 predicted sites."),
        ("CONCLUSIONS",
         "Multi-exon CRISPR deletion is a candidate one-time treatment for DMD.")],
       doi="10.5555/gtr.2024.1120", pmcid="PMC9900106", cite="7(6):410-422"),
    _a("99010007",
       "Daily versus intermittent glucocorticoid regimens in Duchenne muscular dystrophy: a 3-year"
       " pragmatic comparison",
       "Journal of Neuromuscular Therapeutics", "2023 Feb",
       "Greene, Alice; Mensah, Kwame; Duarte, Sofia",
       [("METHODS",
         "196 boys aged 4-7 were assigned daily or 10-days-on/10-days-off glucocorticoids."),
        ("RESULTS",
         "Daily dosing slowed loss of rise-from-floor time by 1.2 seconds per year but reduced height by"
         " 3.1 cm and doubled weight gain."),
        ("CONCLUSIONS",
         "Daily glucocorticoids give better motor function at the cost of more side effects.")],
       doi="10.5555/jnt.2023.0205", cite="11(2):99-110"),
    _a("99010008",
       "Natural history of cardiomyopathy in Duchenne muscular dystrophy assessed by cardiac MRI",
       "Annals of Translational Myology", "2022 Oct",
       "Ivanova, Maria; Brooks, Nathan; Takahashi, Aiko",
       [("BACKGROUND",
         "Cardiomyopathy is the leading cause of death in Duchenne muscular dystrophy."),
        ("RESULTS",
         "In 212 patients followed for a median of 4.3 years, left ventricular ejection fraction fell by"
         " 1.6% per year; late gadolinium enhancement was present in 61% by age 15."),
        ("CONCLUSIONS",
         "Gene therapies should report cardiac end points alongside skeletal muscle outcomes.")],
       doi="10.5555/atm.2022.1003", cite="3(5):301-312"),
    _a("99010009",
       "Gene therapy for Duchenne muscular dystrophy: a systematic review and meta-analysis of randomized"
       " and single-arm trials",
       "Gene Therapy Reports", "2025 Aug",
       "Rossi, Giulia; Haddad, Rania; Chen, Lu",
       [("OBJECTIVE",
         "To summarise efficacy and safety of gene therapy for DMD."),
        ("METHODS",
         "We searched four databases to May 2025 and included 11 trials with 642 participants."),
        ("RESULTS",
         "Pooled micro-dystrophin expression was 47% of normal (95% CI 38-56%). The pooled NSAA difference"
         " versus control was 0.9 points (95% CI 0.1 to 1.7). Serious treatment-related adverse events"
         " occurred in 11% of participants."),
        ("CONCLUSIONS",
         "Expression is consistent; functional benefit is modest and uncertain.")],
       doi="10.5555/gtr.2025.0815", pmcid="PMC9900109", cite="8(4):250-266"),
    _a("99010010",
       "Cost-effectiveness of one-time gene therapy for Duchenne muscular dystrophy",
       "Value & Outcomes in Rare Disease", "2025 Feb",
       "Novak, Jana; Smith, Jordan; Al-Farsi, Omar",
       [("METHODS",
         "A Markov model compared gene therapy at a list price of $3.2 million with standard care over a"
         " lifetime horizon."),
        ("RESULTS",
         "The incremental cost-effectiveness ratio was $412,000 per QALY; an outcomes-based agreement"
         " refunding 40% on non-response lowered it to $298,000 per QALY."),
        ("CONCLUSIONS",
         "Gene therapy for DMD is not cost-effective at current prices without risk sharing.")],
       doi="10.5555/vord.2025.0219", cite="2(1):15-27"),
    _a("99010011",
       "Five-year follow-up of AAV9 gene replacement in spinal muscular atrophy",
       "Pediatric Neurology Open", "2024 Dec",
       "Walker, Emma; Kim, Seo-yeon",
       [("",
         "Of 27 infants treated with AAV9 gene replacement for spinal muscular atrophy, 25 were alive"
         " without permanent ventilation at 5 years and 19 sat independently.")],
       doi="10.5555/pno.2024.1207", cite="2(12):e000188"),
]

EUROPEPMC_ONLY: list[EuropePMCRecord] = [
    EuropePMCRecord(
        "PPR990001", "PPR",
        "Dual-vector AAV delivery of full-length dystrophin using split inteins in a canine model of"
        " Duchenne muscular dystrophy",
        "Fontaine L, Obi C, Lindqvist H.", "", 2025, "2025-10-03",
        "<h4>Background</h4>Micro-dystrophins lack key domains.<h4>Results</h4>Split-intein vectors"
        " produced full-length dystrophin in 31% of fibres in 3 dogs.",
        doi="10.5555/preprint.2025.1003", open_access=True),
    EuropePMCRecord(
        "99010020", "MED",
        "Patient-reported priorities for gene therapy outcomes in Duchenne muscular dystrophy: a survey of"
        " 540 caregivers",
        "Duarte S, Greene A, Mensah K.", "Journal of Neuromuscular Therapeutics", 2024, "2024-08-20",
        "<h4>Results</h4>Caregivers ranked preserved upper-limb function (72%) above walking (58%); 64%"
        " would accept a 10% risk of serious adverse events.",
        pmid="99010020", doi="10.5555/jnt.2024.0820", cited_by=3),
    EuropePMCRecord(
        "PMC9900123", "PMC",
        "Biodistribution of micro-dystrophin vectors in non-human primates",
        "Petrova A, Zhang W.", "Gene Therapy Reports", 2023, "2023-05-11",
        "Liver vector genome copies were 8-fold higher than in skeletal muscle 8 weeks after dosing.",
        pmcid="PMC9900123", doi="10.5555/gtr.2023.0511", open_access=True, cited_by=12),
]

TRIALS: list[Trial] = [
    Trial("NCT99000001", "ACTIVE_NOT_RECRUITING", ["PHASE3"], "Northwind Genetics",
          "FX-101 Gene Therapy in Ambulatory Boys With Duchenne Muscular Dystrophy",
          "A Phase 3, Randomized, Double-blind, Placebo-controlled Study of FX-101 Micro-dystrophin Gene"
          " Transfer",
          ["Duchenne Muscular Dystrophy"],
          "Evaluates a single infusion of FX-101, an AAVrh74 micro-dystrophin gene therapy, on NSAA at week"
          " 52.",
          ["GENETIC: FX-101", "OTHER: Placebo"], "2022-03", "2025-09-14", 126),
    Trial("NCT99000002", "RECRUITING", ["PHASE2"], "Northwind Genetics",
          "FX-101 in Non-ambulatory and Older Ambulatory Participants With DMD",
          "An Open-label Phase 2 Study of FX-101 Micro-dystrophin Gene Therapy in Older Participants",
          ["Duchenne Muscular Dystrophy"],
          "Assesses safety and expression of FX-101 gene therapy in participants aged 8 to 18 years.",
          ["GENETIC: FX-101"], "2024-06", "2026-02-03", 40),
    Trial("NCT99000003", "COMPLETED", ["PHASE2"], "Fabrikam Therapeutics",
          "Vexarsen-51 Exon 51 Skipping in Duchenne Muscular Dystrophy",
          "A Phase 2 Study of Weekly Vexarsen-51 in Boys With DMD Amenable to Exon 51 Skipping",
          ["Duchenne Muscular Dystrophy"],
          "Measures dystrophin production after 48 weeks of the exon skipping oligomer vexarsen-51.",
          ["DRUG: vexarsen-51"], "2021-01", "2024-03-30", 24, has_results=True),
    Trial("NCT99000004", "RECRUITING", ["PHASE1"], "Helix Bay Therapeutics",
          "First-in-human CRISPR Exon 45-55 Deletion (HBT-220) for DMD",
          "A Phase 1 Dose-escalation Study of HBT-220 CRISPR-Cas9 Gene Editing in Duchenne Muscular"
          " Dystrophy",
          ["Duchenne Muscular Dystrophy", "Dystrophinopathy"],
          "Tests the safety of HBT-220, a dual AAV9 gene editing therapy deleting DMD exons 45 to 55.",
          ["GENETIC: HBT-220"], "2025-11", "2026-06-18", 12),
    Trial("NCT99000005", "RECRUITING", ["PHASE1", "PHASE2"], "Contoso Biopharma",
          "Capsid Antibody Clearance Before AAV Gene Therapy in Seropositive Boys With DMD",
          "A Phase 1/2 Study of the IgG-cleaving Enzyme ZX-14 to Enable AAVrh74 Dosing in Seropositive"
          " Patients",
          ["Duchenne Muscular Dystrophy"],
          "Evaluates whether ZX-14 lowers neutralizing antibodies enough to allow gene therapy.",
          ["DRUG: ZX-14", "GENETIC: FX-101"], "2025-02", "2026-01-22", 18),
    Trial("NCT99000006", "COMPLETED", ["PHASE3"], "University of Fictional Medicine",
          "Daily vs Intermittent Glucocorticoids in Duchenne Muscular Dystrophy",
          "A Phase 3 Pragmatic Comparison of Glucocorticoid Regimens in Young Boys With DMD",
          ["Duchenne Muscular Dystrophy"],
          "Compares motor function and side effects of daily and intermittent glucocorticoid dosing.",
          ["DRUG: glucocorticoid (daily)", "DRUG: glucocorticoid (intermittent)"],
          "2018-04", "2023-05-02", 196, has_results=True),
    Trial("NCT99000007", "ACTIVE_NOT_RECRUITING", ["PHASE2"], "Tailspin Bio",
          "FXC-7 for Cardiomyopathy in Duchenne Muscular Dystrophy",
          "A Phase 2 Study of the Mineralocorticoid Receptor Antagonist FXC-7 in DMD Cardiomyopathy",
          ["Duchenne Muscular Dystrophy", "Cardiomyopathy"],
          "Measures change in cardiac MRI ejection fraction after 12 months of FXC-7.",
          ["DRUG: FXC-7"], "2023-07", "2025-12-09", 60),
    Trial("NCT99000008", "RECRUITING", [], "Institut Fictif de Myologie",
          "Natural History Registry of Boys With Duchenne Muscular Dystrophy",
          "A Prospective Observational Natural History Study of Motor, Cardiac and Respiratory Function in"
          " DMD",
          ["Duchenne Muscular Dystrophy"],
          "Collects yearly NSAA, cardiac MRI and lung function data to serve as an external control.",
          [], "2019-09", "2026-03-11", 500, study_type="OBSERVATIONAL"),
    Trial("NCT99000009", "COMPLETED", ["PHASE3"], "Northwind Genetics",
          "AAV9 Gene Replacement in Presymptomatic Spinal Muscular Atrophy",
          "A Phase 3 Study of Intravenous AAV9 SMN1 Gene Replacement in Presymptomatic Infants",
          ["Spinal Muscular Atrophy"],
          "Assesses independent sitting at 18 months after one-time gene replacement.",
          ["GENETIC: AAV9-SMN1"], "2019-02", "2022-11-30", 30, has_results=True),
]

WEB: list[WebResult] = [
    WebResult("Northwind Genetics reports 52-week topline results for FX-101 in Duchenne",
              "https://news.example.com/2025/06/fx-101-topline-duchenne",
              "The phase 3 trial of the micro-dystrophin gene therapy missed its NSAA primary end point"
              " (0.7-point difference, P=0.14) but met all expression end points.",
              "2025-06-10", "2025-06-11"),
    WebResult("What families should know about gene therapy for Duchenne muscular dystrophy",
              "https://www.example.org/duchenne/gene-therapy-guide",
              "Eligibility depends on age, ambulation and capsid antibodies; about 1 in 7 boys test"
              " seropositive.",
              None, "2025-09-30"),
    WebResult("Regulator accepts filing for FX-101 micro-dystrophin gene therapy",
              "https://pharma-wire.example.net/fx-101-filing-accepted",
              "A decision on the Duchenne gene therapy is expected in the second half of 2026.",
              "2025-09-02", "2025-09-02"),
    WebResult("Exon skipping in 2025: where vexarsen-51 fits",
              "https://blog.example.org/exon-skipping-2025",
              "Exon 51 skipping raises dystrophin to about 4% of normal, far below micro-dystrophin gene"
              " therapy.",
              "2025-03-18", "2025-04-01"),
    WebResult("Safety signal: myositis cases after micro-dystrophin gene therapy",
              "https://news.example.com/2025/11/myositis-gene-therapy-duchenne",
              "Boys with deletions in exons 8-11 of the DMD gene face a higher risk of immune myositis.",
              "2025-11-05", "2025-11-20"),
    WebResult("Helix Bay doses first patient in CRISPR trial for DMD",
              "https://biotech.example.com/helix-bay-hbt-220-first-patient",
              "HBT-220 deletes exons 45-55 and could address about 40% of Duchenne mutations.",
              "2026-01-14", "2026-01-14"),
    WebResult("Cost of one-time gene therapies: payers weigh outcomes-based agreements",
              "https://health-policy.example.org/gene-therapy-outcomes-based-pricing",
              "At $3.2 million, Duchenne gene therapy costs $412,000 per QALY without a refund agreement.",
              "2025-10-08", None),
    WebResult("Spinal muscular atrophy gene replacement: five years of real-world data",
              "https://news.example.com/2024/12/sma-five-years",
              "Most infants treated with AAV9 gene replacement were alive without ventilation at 5 years.",
              "2024-12-12", "2024-12-12"),
]
