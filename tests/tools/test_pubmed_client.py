"""PubMed: ESearch for relevant PMIDs, one EFetch for their records, parsed from the real XML."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from mia.errors import ServiceError
from mia.tools.http import RateLimiter, RetryPolicy
from mia.tools.pubmed import PubMed

if TYPE_CHECKING:
    from conftest import FakeService

NO_WAIT = RetryPolicy(base_delay=0, max_delay=0)
BASE = "https://eutils.test/entrez/eutils"

ESEARCH: dict[str, Any] = {
    "header": {"type": "esearch", "version": "0.3"},
    "esearchresult": {
        "count": "1843", "retmax": "2", "retstart": "0",
        "idlist": ["38912345", "37654321"],
        "translationset": [{"from": "duchenne", "to": "\"muscular dystrophy, duchenne\"[MeSH Terms]"}],
        "querytranslation": "\"muscular dystrophy, duchenne\"[MeSH Terms] AND \"gene therapy\"[All Fields]",
    },
}

ESEARCH_EMPTY: dict[str, Any] = {
    "header": {"type": "esearch", "version": "0.3"},
    "esearchresult": {
        "count": "0", "retmax": "0", "retstart": "0", "idlist": [], "translationset": [],
        "querytranslation": "xyzzyplex[All Fields]",
        "errorlist": {"phrasesnotfound": ["xyzzyplex"], "fieldsnotfound": []},
        "warninglist": {"phrasesignored": [], "quotedphrasesnotfound": [],
                        "outputmessages": ["No items found."]},
    },
}

# The records come back in another order than the idlist on purpose: relevance order must win.
EFETCH = b"""<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" \
"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">
<PubmedArticleSet>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM" IndexingMethod="Automated">
    <PMID Version="1">37654321</PMID>
    <Article PubModel="Print">
      <Journal>
        <ISSN IssnType="Electronic">1873-2364</ISSN>
        <JournalIssue CitedMedium="Internet">
          <Volume>33</Volume><Issue>11</Issue>
          <PubDate><MedlineDate>2023 Nov-Dec</MedlineDate></PubDate>
        </JournalIssue>
        <Title>Neuromuscular disorders : NMD</Title>
        <ISOAbbreviation>Neuromuscul Disord</ISOAbbreviation>
      </Journal>
      <ArticleTitle>Cardiac outcomes in Duchenne &amp; Becker muscular dystrophy registries.</ArticleTitle>
      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>Nguyen</LastName><ForeName>Thi</ForeName>
          <Initials>T</Initials></Author>
        <Author ValidYN="Y"><LastName>Okafor</LastName><ForeName>Chidi</ForeName>
          <Initials>C</Initials></Author>
        <Author ValidYN="Y"><LastName>Lindqvist</LastName><ForeName>Anna</ForeName>
          <Initials>A</Initials></Author>
        <Author ValidYN="Y"><CollectiveName>DMD Cardiac Registry Group</CollectiveName></Author>
      </AuthorList>
      <Language>eng</Language>
      <PublicationTypeList>
        <PublicationType UI="D016428">Journal Article</PublicationType>
      </PublicationTypeList>
    </Article>
  </MedlineCitation>
  <PubmedData>
    <ArticleIdList>
      <ArticleId IdType="pubmed">37654321</ArticleId>
      <ArticleId IdType="doi">10.1016/j.nmd.2023.10.002</ArticleId>
    </ArticleIdList>
  </PubmedData>
</PubmedArticle>
<PubmedArticle>
  <MedlineCitation Status="PubMed-not-MEDLINE" Owner="NLM">
    <PMID Version="1">38912345</PMID>
    <Article PubModel="Print-Electronic">
      <Journal>
        <JournalIssue CitedMedium="Internet">
          <Volume>30</Volume><Issue>3</Issue>
          <PubDate><Year>2024</Year><Month>Mar</Month><Day>5</Day></PubDate>
        </JournalIssue>
        <Title>Nature medicine</Title>
      </Journal>
      <ArticleTitle>Micro-dystrophin gene therapy with <i>rAAVrh74</i> in boys with Duchenne muscular \
dystrophy: a phase 3 trial.</ArticleTitle>
      <ELocationID EIdType="doi" ValidYN="Y">10.1038/s41591-024-02900-1</ELocationID>
      <Abstract>
        <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Duchenne muscular dystrophy (DMD) is \
caused by loss of dystrophin; &#x3b2;-sarcoglycan levels fall as well.</AbstractText>
        <AbstractText Label="METHODS" NlmCategory="METHODS">We randomly assigned 125 boys aged 4 to 7 years \
to receive delandistrogene moxeparvovec (1.33&#xd7;10<sup>14</sup> vg/kg) or placebo.</AbstractText>
        <AbstractText Label="RESULTS" NlmCategory="RESULTS">The North Star Ambulatory Assessment score did \
not differ significantly at week 52 (P&lt;0.05 was not reached).</AbstractText>
        <CopyrightInformation>Copyright 2024 The Authors.</CopyrightInformation>
      </Abstract>
      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>Mendell</LastName><ForeName>Jerry R</ForeName>
          <Initials>JR</Initials></Author>
      </AuthorList>
      <ArticleDate DateType="Electronic"><Year>2024</Year><Month>02</Month><Day>20</Day></ArticleDate>
    </Article>
  </MedlineCitation>
</PubmedArticle>
</PubmedArticleSet>
"""


def pubmed(http: httpx.Client, **kwargs: Any) -> PubMed:
    return PubMed(http=http, base_url=BASE, limiter=RateLimiter(0), retry=NO_WAIT, **kwargs)


def serve(fake: FakeService, esearch: Any = ESEARCH, efetch: bytes = EFETCH) -> None:
    fake.on("/entrez/eutils/esearch.fcgi", fake.reply(json_body=esearch))
    fake.on("/entrez/eutils/efetch.fcgi", fake.reply(content=efetch, headers={"content-type": "text/xml"}))


def test_a_pubmed_search_sends_ncbis_parameters_and_fetches_all_abstracts_at_once(fake: FakeService,
                                                                                  http: httpx.Client):
    serve(fake)

    result = pubmed(http, api_key="ncbi-key", email="lab@example.org").search("duchenne gene therapy",
                                                                             max_results=2)

    assert fake.paths() == ["/entrez/eutils/esearch.fcgi", "/entrez/eutils/efetch.fcgi"]
    assert fake.params(0) == {"db": "pubmed", "term": "duchenne gene therapy", "retmode": "json",
                              "retmax": "2", "sort": "relevance", "tool": "mia", "email": "lab@example.org",
                              "api_key": "ncbi-key"}
    assert fake.params(1) == {"db": "pubmed", "id": "38912345,37654321", "rettype": "abstract",
                              "retmode": "xml", "tool": "mia", "email": "lab@example.org",
                              "api_key": "ncbi-key"}
    assert [s.identifier for s in result.sources] == ["38912345", "37654321"]  # relevance order
    assert result.usage.service == "PubMed" and result.usage.requests == 2 and result.usage.cost_usd == 0


def test_a_structured_abstract_becomes_one_labelled_snippet(fake: FakeService, http: httpx.Client):
    serve(fake)

    trial = pubmed(http).search("duchenne gene therapy").sources[0]

    assert trial.kind == "pubmed" and trial.url == "https://pubmed.ncbi.nlm.nih.gov/38912345/"
    assert trial.title == ("Micro-dystrophin gene therapy with rAAVrh74 in boys with Duchenne muscular "
                           "dystrophy: a phase 3 trial.")
    assert trial.snippet.startswith("BACKGROUND: Duchenne muscular dystrophy (DMD) is caused by loss of "
                                    "dystrophin; β-sarcoglycan")
    assert "METHODS: We randomly assigned 125 boys" in trial.snippet
    assert "(1.33×1014 vg/kg)" in trial.snippet  # <sup> text kept, entities decoded
    assert trial.snippet.endswith("RESULTS: The North Star Ambulatory Assessment score did not differ "
                                  "significantly at week 52 (P<0.05 was not reached).")
    assert "Copyright" not in trial.snippet
    assert trial.date == "2024-03-05"
    assert trial.query == "duchenne gene therapy"


def test_a_record_without_an_abstract_falls_back_to_journal_and_authors(fake: FakeService,
                                                                          http: httpx.Client):
    serve(fake)

    registry = pubmed(http).search("duchenne").sources[1]

    assert registry.title == "Cardiac outcomes in Duchenne & Becker muscular dystrophy registries."
    assert registry.snippet == "Neuromuscular disorders : NMD (Nguyen T, Okafor C, Lindqvist A et al.)"
    assert registry.date == "2023-11"  # from MedlineDate "2023 Nov-Dec"


def test_the_api_key_is_only_sent_when_there_is_one(fake: FakeService, http: httpx.Client):
    serve(fake)

    pubmed(http).search("duchenne")

    assert "api_key" not in fake.params(0) and "email" not in fake.params(0)
    assert fake.params(0)["tool"] == "mia" and fake.params(1)["tool"] == "mia"


def test_no_hits_means_no_efetch_and_an_empty_list(fake: FakeService, http: httpx.Client):
    serve(fake, esearch=ESEARCH_EMPTY)

    result = pubmed(http).search("xyzzyplex")

    assert result.sources == []
    assert fake.paths() == ["/entrez/eutils/esearch.fcgi"]
    assert result.usage.requests == 1


def test_an_esearch_error_reports_ncbis_words(fake: FakeService, http: httpx.Client):
    serve(fake, esearch={"header": {"type": "esearch", "version": "0.3"},
                         "esearchresult": {"ERROR": "Invalid query: unbalanced parentheses"}})

    with pytest.raises(ServiceError, match="unbalanced parentheses"):
        pubmed(http).search("(duchenne")

    assert fake.paths() == ["/entrez/eutils/esearch.fcgi"]


def test_ncbi_rate_limit_answers_are_retried(fake: FakeService, http: httpx.Client):
    over = {"error": "API rate limit exceeded", "api-key": "203.0.113.9", "count": "4", "limit": "3"}
    fake.on("/entrez/eutils/esearch.fcgi", fake.reply(429, json_body=over, headers={"Retry-After": "1"}),
            fake.reply(json_body=ESEARCH))
    fake.on("/entrez/eutils/efetch.fcgi", fake.reply(content=EFETCH))

    result = pubmed(http).search("duchenne")

    assert fake.paths() == ["/entrez/eutils/esearch.fcgi"] * 2 + ["/entrez/eutils/efetch.fcgi"]
    assert len(result.sources) == 2


def test_a_bad_api_key_surfaces_ncbis_message(fake: FakeService, http: httpx.Client):
    fake.on("/entrez/eutils/esearch.fcgi", fake.reply(400, json_body={"error": "API key invalid"}))

    with pytest.raises(ServiceError) as caught:
        pubmed(http, api_key="wrong").search("duchenne")

    assert caught.value.message == "PubMed answered HTTP 400: API key invalid"
    assert len(fake.requests) == 1


@pytest.mark.parametrize(("efetch", "expected"), [
    (b"<html><body>Service unavailable</body>", "cannot be parsed"),
    (b"<?xml version='1.0'?><eFetchResult><ERROR>Empty id list</ERROR></eFetchResult>", "Empty id list"),
    (b"<?xml version='1.0'?><eSummaryResult><DocSum/></eSummaryResult>", "<eSummaryResult>"),
])
def test_efetch_answers_that_are_not_an_article_set_are_service_errors(fake: FakeService, http: httpx.Client,
                                                                       efetch: bytes, expected: str):
    serve(fake, efetch=efetch)

    with pytest.raises(ServiceError, match=expected) as caught:
        pubmed(http).search("duchenne")

    assert caught.value.service == "PubMed"


def test_long_abstracts_are_trimmed_and_odd_records_still_parse(fake: FakeService, http: httpx.Client):
    words = " ".join(["exon-skipping"] * 300)
    xml = f"""<?xml version="1.0"?><PubmedArticleSet>
      <PubmedArticle><MedlineCitation><PMID>111</PMID><Article>
        <Journal><JournalIssue><PubDate><Year>2021</Year><Month>13</Month></PubDate></JournalIssue>
          <ISOAbbreviation>Hum Gene Ther</ISOAbbreviation></Journal>
        <ArticleTitle></ArticleTitle><VernacularTitle>Thérapie génique</VernacularTitle>
        <Abstract><AbstractText>{words}</AbstractText></Abstract>
      </Article></MedlineCitation></PubmedArticle>
      <PubmedArticle><MedlineCitation><PMID>222</PMID><Article>
        <Journal><JournalIssue><PubDate/></JournalIssue></Journal><ArticleTitle/>
        <ArticleDate><Year>2020</Year><Month>7</Month><Day>1</Day></ArticleDate>
      </Article></MedlineCitation></PubmedArticle>
      <PubmedBookArticle><BookDocument><PMID>333</PMID>
        <Book><BookTitle>GeneReviews<sup>®</sup></BookTitle><PubDate><Year>2022</Year></PubDate></Book>
        <ArticleTitle>Dystrophinopathies</ArticleTitle>
        <Abstract><AbstractText>Clinical characteristics of dystrophinopathies.</AbstractText></Abstract>
      </BookDocument></PubmedBookArticle>
    </PubmedArticleSet>""".encode()
    serve(fake, esearch={"esearchresult": {"idlist": ["111", "222", "333"]}}, efetch=xml)

    first, second, book = pubmed(http).search("exon skipping").sources

    assert len(first.snippet) <= 1201 and first.snippet.endswith("exon-skipping…")
    assert (first.title, first.date) == ("Thérapie génique", "2021")  # month 13 ignored
    assert (second.title, second.date, second.snippet) == ("PMID 222", "2020-07-01", "")
    assert (book.identifier, book.title, book.date) == ("333", "Dystrophinopathies", "2022")
    assert book.snippet == "Clinical characteristics of dystrophinopathies."


def test_papers_carry_authors_journal_and_doi_for_citing(fake: FakeService, http: httpx.Client):
    serve(fake)

    first, second = pubmed(http).search("duchenne").sources[:2]

    assert first.authors[:1] == ["Mendell JR"] and first.journal == "Nature medicine"
    assert first.doi == "10.1038/s41591-024-02900-1"  # from ELocationID
    assert second.doi == "10.1016/j.nmd.2023.10.002"  # from PubmedData's ArticleIdList
    assert second.authors[:3] == ["Nguyen T", "Okafor C", "Lindqvist A"]
    assert second.journal == "Neuromuscular disorders : NMD"
