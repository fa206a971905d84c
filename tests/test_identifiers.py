"""mia.identifiers: every way a document's id is written normalises to the same key."""

from __future__ import annotations

import pytest

from mia.identifiers import document_keys, id_key, normalize_url, strongest, url_keys


@pytest.mark.parametrize(("a", "b"), [
    ("https://www.example.org/page/", "http://example.org/page"),
    ("https://example.org/page?utm_source=x&utm_medium=y", "https://example.org/page"),
    ("https://example.org/p?b=2&fbclid=abc&a=1#section", "https://EXAMPLE.org/p?a=1&b=2"),
    ("https://example.org/p/index.html", "https://example.org/p"),
])
def test_urls_that_name_the_same_page_normalise_alike(a: str, b: str) -> None:
    assert normalize_url(a) == normalize_url(b) is not None


@pytest.mark.parametrize(("url", "key"), [
    ("https://pubmed.ncbi.nlm.nih.gov/38999999/", "pmid:38999999"),
    ("https://www.ncbi.nlm.nih.gov/pubmed/38999999", "pmid:38999999"),
    ("https://pmc.ncbi.nlm.nih.gov/articles/PMC1234567/", "pmcid:PMC1234567"),
    ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC1234567", "pmcid:PMC1234567"),
    ("https://europepmc.org/article/MED/38999999", "pmid:38999999"),
    ("https://europepmc.org/article/PMC/PMC1234567", "pmcid:PMC1234567"),
    ("https://doi.org/10.1056/NEJMoa2033034", "doi:10.1056/nejmoa2033034"),
    ("https://dx.doi.org/10.1056/nejmoa2033034", "doi:10.1056/nejmoa2033034"),
    ("https://journal.example/doi/full/10.5555/xyz", "doi:10.5555/xyz"),
    ("https://clinicaltrials.gov/study/NCT01234567?tab=results", "nct:NCT01234567"),
    ("https://classic.clinicaltrials.gov/ct2/show/NCT01234567", "nct:NCT01234567"),
])
def test_the_id_inside_a_database_url_is_one_of_its_keys(url: str, key: str) -> None:
    assert key in url_keys(url)


@pytest.mark.parametrize(("written", "key"), [
    ("PMID: 38999999", "pmid:38999999"),
    ("38999999", "pmid:38999999"),
    ("pmc 1234567", "pmcid:PMC1234567"),
    ("nct01234567", "nct:NCT01234567"),
    ("doi:10.1016/S0140-6736(20)30183-5.", "doi:10.1016/s0140-6736(20)30183-5"),
    ("https://doi.org/10.5555/ABC.123", "doi:10.5555/abc.123"),
    ("not an id", None),
])
def test_identifiers_written_any_usual_way_get_one_key(written: str, key: str | None) -> None:
    assert id_key(written) == key


def test_a_documents_strongest_key_is_its_database_id_not_its_url() -> None:
    keys = document_keys(url="https://pubmed.ncbi.nlm.nih.gov/123/", identifiers=["123", None])
    assert keys == {"pmid:123", "url:pubmed.ncbi.nlm.nih.gov/123"} and strongest(keys) == "pmid:123"
