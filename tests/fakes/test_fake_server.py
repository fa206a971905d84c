"""The loopback fake speaks each service's wire shapes, fails on purpose when told, and logs what it saw."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from fakes.corpus import Article, Corpus
from fakes.server import FAKE_REPLY, FakeServices, LLMReply, ScriptedLLM

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
QWEN = "@cf/qwen/qwen3-30b-a3b-fp8"
CHAT = {"messages": [{"role": "user", "content": "Summarise gene therapy for DMD"}], "max_tokens": 512}
TOOL_CALL = {"name": "pubmed_search", "arguments": {"q": "micro-dystrophin", "max_results": 5}}
HTTP = httpx.Client(timeout=10, trust_env=False)  # one client: building an SSL context per call costs ~40 ms


@pytest.fixture
def fake() -> Iterator[FakeServices]:
    with FakeServices() as services:
        yield services


def run_url(fake: FakeServices, model: str = LLAMA, account: str | None = None) -> str:
    return f"{fake.url}/client/v4/accounts/{account or fake.account_id}/ai/run/{model}"


def cf_post(fake: FakeServices, body: dict[str, Any], *, model: str = LLAMA, token: str | None = None,
            account: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token or fake.cf_token}"}
    return HTTP.post(run_url(fake, model, account), json=body, headers=headers)


def stream_pieces(fake: FakeServices, url: str, body: dict[str, Any], headers: dict[str, str]) -> list[bytes]:
    """The raw pieces of a streamed answer, as they came off the wire."""
    with HTTP.stream("POST", url, json=body, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(response.iter_raw())


def sse_data(pieces: list[bytes]) -> list[str]:
    """The `data:` payloads of an SSE stream, reassembled across piece boundaries."""
    text = b"".join(pieces).decode("utf-8")
    return [line.removeprefix("data: ") for line in text.split("\n") if line.startswith("data: ")]


# -- Workers AI ------------------------------------------------------------------------------------------
def test_workers_ai_answers_in_the_cloudflare_envelope_with_the_legacy_result(fake: FakeServices) -> None:
    response = cf_post(fake, CHAT)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == []
    assert body["result"] == {"response": FAKE_REPLY, "usage": {"prompt_tokens": 100, "completion_tokens": 50,
                                                                  "total_tokens": 150}}
    assert fake.requests[-1].json == CHAT


def test_json_mode_reply_comes_back_as_an_already_parsed_object() -> None:
    llm = ScriptedLLM([LLMReply(data={"queries": ["dmd gene therapy"]})])
    with FakeServices(llm=llm) as fake:
        result = cf_post(fake, {**CHAT, "response_format": {"type": "json_schema"}}).json()["result"]
    assert result["response"] == {"queries": ["dmd gene therapy"]}
    assert llm.calls[0][1] == LLAMA


def test_legacy_tool_calls_carry_object_arguments_and_no_id() -> None:
    with FakeServices(llm=ScriptedLLM([LLMReply(tool_calls=[TOOL_CALL])])) as fake:
        result = cf_post(fake, CHAT).json()["result"]
    assert result["tool_calls"] == [TOOL_CALL]


def test_openai_shape_models_return_a_chat_completion_inside_the_envelope() -> None:
    llm = ScriptedLLM([LLMReply(tool_calls=[TOOL_CALL], prompt_tokens=7, completion_tokens=3)])
    with FakeServices(llm=llm, llm_shape="openai") as fake:
        result = cf_post(fake, CHAT).json()["result"]
    assert result["object"] == "chat.completion" and result["model"] == LLAMA
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["id"]
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == TOOL_CALL["arguments"]
    assert result["usage"]["total_tokens"] == 10


def test_auto_shape_answers_llama_legacy_and_qwen_openai() -> None:
    with FakeServices(llm_shape="auto") as fake:
        assert "response" in cf_post(fake, CHAT).json()["result"]
        assert cf_post(fake, CHAT, model=QWEN).json()["result"]["choices"][0]["message"]["content"] == FAKE_REPLY


@pytest.mark.parametrize(("change", "status", "code"), [
    ({"token": "wrong"}, 401, 10000), ({"account": "someone-else"}, 404, 7003), ({"model": "@cf/x"}, 400, 5007)])
def test_workers_ai_refuses_bad_token_wrong_account_and_unknown_model(
        fake: FakeServices, change: dict[str, str], status: int, code: int) -> None:
    response = cf_post(fake, CHAT, **change)
    assert response.status_code == status
    body = response.json()
    assert body["success"] is False and body["result"] == {} and body["errors"][0]["code"] == code
    if code == 5007:
        assert body["errors"][0]["message"] == "AiError: No such model @cf/x or task"
    assert fake.count("workers-ai", status=status) == 1


def test_legacy_stream_is_cut_mid_frame_and_reassembles_into_the_reply(fake: FakeServices) -> None:
    pieces = stream_pieces(fake, run_url(fake), {**CHAT, "stream": True},
                           {"Authorization": f"Bearer {fake.cf_token}"})
    assert any(not piece.endswith(b"\n") for piece in pieces[:-1]), "every write ended on a line boundary"
    data = sse_data(pieces)
    assert data[-1] == "[DONE]"
    frames = [json.loads(d) for d in data[:-1]]
    assert "".join(f["response"] for f in frames) == FAKE_REPLY
    assert all("p" in f for f in frames[:-1])
    assert frames[-1] == {"response": "", "usage": {"prompt_tokens": 100, "completion_tokens": 50,
                                                    "total_tokens": 150}}


def test_openai_shape_stream_ends_with_cumulative_usage_then_done() -> None:
    with FakeServices(llm_shape="openai") as fake:
        data = sse_data(stream_pieces(fake, run_url(fake), {**CHAT, "stream": True},
                                      {"Authorization": f"Bearer {fake.cf_token}"}))
    assert data[-1] == "[DONE]"
    frames = [json.loads(d) for d in data[:-1]]
    chunks, final = frames[:-1], frames[-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == FAKE_REPLY
    assert final == {"response": "", "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}}


def test_openai_compatible_server_answers_plainly_and_streams_with_usage(fake: FakeServices) -> None:
    url = f"{fake.url}/openai/v1/chat/completions"
    plain = HTTP.post(url, json={**CHAT, "model": "local-model"}).json()
    assert plain["choices"][0]["message"] == {"role": "assistant", "content": FAKE_REPLY}
    body = {**CHAT, "model": "local-model", "stream": True, "stream_options": {"include_usage": True}}
    data = sse_data(stream_pieces(fake, url, body, {}))
    assert data[-1] == "[DONE]"
    frames = [json.loads(d) for d in data[:-1]]
    assert "".join(f["choices"][0]["delta"].get("content", "") for f in frames if f["choices"]) == FAKE_REPLY
    assert frames[-1]["choices"] == [] and frames[-1]["usage"]["total_tokens"] == 150
    assert fake.count("openai") == 2


# -- Perplexity --------------------------------------------------------------------------------------------
def pplx(fake: FakeServices, body: dict[str, Any], key: str | None = None) -> httpx.Response:
    return HTTP.post(f"{fake.url}/perplexity/search", json=body,
                      headers={"Authorization": f"Bearer {key or fake.pplx_key}"})


def test_perplexity_search_returns_ranked_web_results(fake: FakeServices) -> None:
    body = pplx(fake, {"query": "micro-dystrophin gene therapy duchenne", "max_results": 3}).json()
    assert set(body) == {"id", "results", "server_time"} and body["server_time"] is None
    assert len(body["results"]) == 3
    assert set(body["results"][0]) == {"title", "url", "snippet", "date", "last_updated"}


@pytest.mark.parametrize(("body", "key", "status", "message"), [
    ({"query": "dmd"}, "wrong", 401, "Invalid API key"),
    ({"query": "dmd", "search_mode": "academic"}, None, 400,
     'invalid request body: json: unknown field "search_mode"'),
    ({"query": "dmd", "max_results": 21}, None, 400, "invalid request body: max_results must be between 1 and 20"),
])
def test_perplexity_search_refuses_bad_keys_and_bodies(fake: FakeServices, body: dict[str, Any], key: str | None,
                                                       status: int, message: str) -> None:
    response = pplx(fake, body, key)
    assert response.status_code == status
    assert response.json()["error"]["message"] == message


# -- PubMed, Europe PMC, ClinicalTrials.gov -------------------------------------------------------------------
def test_pubmed_esearch_efetch_and_esummary_speak_e_utilities(fake: FakeServices) -> None:
    base = f"{fake.url}/eutils"
    search = HTTP.get(f"{base}/esearch.fcgi", params={"db": "pubmed", "term": "vexarsen exon skipping",
                                                       "retmode": "json", "retmax": 2}).json()
    result = search["esearchresult"]
    assert search["header"]["type"] == "esearch" and result["retmax"] == "2" and int(result["count"]) >= 2
    assert result["idlist"][0] == "99010003"
    xml = HTTP.get(f"{base}/efetch.fcgi", params={"db": "pubmed", "id": "99010003,99010005",
                                                   "rettype": "abstract", "retmode": "xml"})
    assert xml.text.startswith("<?xml") and "<!DOCTYPE PubmedArticleSet" in xml.text
    articles = ET.fromstring(xml.content).findall("PubmedArticle")
    assert [a.findtext("MedlineCitation/PMID") for a in articles] == ["99010003", "99010005"]
    first = articles[0].find("MedlineCitation/Article")
    assert first is not None
    assert "<5% of normal" in first.findtext("ArticleTitle", "")
    assert first.findtext("Journal/Title") == "Muscle & Nerve Letters"
    assert first.findtext("Journal/JournalIssue/PubDate/Year") == "2023"
    assert first.find("Abstract/AbstractText").get("Label") == "OBJECTIVE"  # type: ignore[union-attr]
    assert first.findtext("AuthorList/Author/LastName") == "Nakamura"
    italic = articles[1].find("MedlineCitation/Article/Abstract/AbstractText")
    assert italic is not None and "deletions in DMD exons" in "".join(italic.itertext())
    summary = HTTP.get(f"{base}/esummary.fcgi", params={"db": "pubmed", "id": "99010003", "retmode": "json"})
    doc = summary.json()["result"]
    assert doc["uids"] == ["99010003"] and doc["99010003"]["fulljournalname"] == "Muscle & Nerve Letters"
    assert doc["99010003"]["authors"][0]["name"] == "Nakamura H"
    assert HTTP.get(f"{base}/esearch.fcgi", params={"db": "nosuchdb", "term": "dmd"}).status_code == 400


def test_europepmc_returns_core_records_and_pages_by_cursor(fake: FakeServices) -> None:
    params: dict[str, Any] = {"query": "duchenne gene therapy", "format": "json", "resultType": "core", "pageSize": 3}
    first = HTTP.get(f"{fake.url}/europepmc/search", params=params).json()
    assert first["hitCount"] > 3 and first["request"]["pageSize"] == 3
    records = first["resultList"]["result"]
    assert len(records) == 3
    med = next(r for r in records if r["source"] == "MED")
    assert {"id", "pmid", "doi", "title", "authorString", "journalInfo", "pubYear", "firstPublicationDate",
            "abstractText", "isOpenAccess"} <= set(med)
    assert med["isOpenAccess"] in ("Y", "N") and med["journalInfo"]["journal"]["title"]
    assert "<h4>" in " ".join(r["abstractText"] for r in records)
    second = HTTP.get(f"{fake.url}/europepmc/search", params={**params, "cursorMark": first["nextCursorMark"]})
    assert {r["id"] for r in second.json()["resultList"]["result"]}.isdisjoint(r["id"] for r in records)


def test_clinicaltrials_studies_have_the_v2_shape_and_page_tokens(fake: FakeServices) -> None:
    url = f"{fake.url}/ctgov/api/v2/studies"
    page = HTTP.get(url, params={"query.term": "duchenne gene therapy", "pageSize": 2, "format": "json"}).json()
    assert len(page["studies"]) == 2 and page["nextPageToken"]
    study = page["studies"][0]
    protocol = study["protocolSection"]
    assert set(protocol) >= {"identificationModule", "statusModule", "descriptionModule", "conditionsModule",
                             "designModule", "sponsorCollaboratorsModule"}
    assert protocol["identificationModule"]["nctId"].startswith("NCT")
    assert protocol["statusModule"]["overallStatus"] in {"RECRUITING", "COMPLETED", "ACTIVE_NOT_RECRUITING"}
    assert protocol["statusModule"]["startDateStruct"]["date"]
    assert protocol["sponsorCollaboratorsModule"]["leadSponsor"]["name"]
    assert study["hasResults"] in (True, False)
    last = HTTP.get(url, params={"query.cond": "spinal muscular atrophy", "pageSize": 10}).json()
    assert "nextPageToken" not in last
    recruiting = HTTP.get(url, params={"query.term": "duchenne", "filter.overallStatus": "RECRUITING"}).json()
    assert {s["protocolSection"]["statusModule"]["overallStatus"] for s in recruiting["studies"]} == {"RECRUITING"}
    refused = HTTP.get(url, params={"query.term": "duchenne", "filter.phase": "PHASE3"})
    assert refused.status_code == 400 and "filter.phase" in refused.json()["message"]


# -- faults, latency, the log ----------------------------------------------------------------------------------
def test_fault_rate_one_answers_429_with_retry_after_and_logs_it() -> None:
    with FakeServices(fault_rate=1.0, faults=(429,)) as fake:
        response = pplx(fake, {"query": "dmd"})
        trials = HTTP.get(f"{fake.url}/ctgov/api/v2/studies", params={"query.term": "dmd"})
        ai = cf_post(fake, CHAT)
    assert response.status_code == 429 and response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "request_rate_limit_exceeded"
    assert trials.status_code == 429 and ai.json()["errors"][0]["code"] == 3040
    assert fake.count("perplexity", status=429) == 1 and fake.count("trials", status=429) == 1


def test_fail_next_injects_faults_for_one_service_then_recovers(fake: FakeServices) -> None:
    fake.fail_next("pubmed", 503)
    params = {"db": "pubmed", "term": "duchenne", "retmode": "json"}
    assert HTTP.get(f"{fake.url}/eutils/esearch.fcgi", params=params).status_code == 503
    assert HTTP.get(f"{fake.url}/eutils/esearch.fcgi", params=params).status_code == 200
    assert [r.status for r in fake.requests] == [503, 200]


def test_latency_lets_concurrent_requests_overlap() -> None:
    with FakeServices(latency={"pubmed": 0.3}) as fake:
        url = f"{fake.url}/eutils/esearch.fcgi?db=pubmed&term=duchenne&retmode=json"
        started = time.monotonic()
        with ThreadPoolExecutor(2) as pool:
            statuses = list(pool.map(lambda _: HTTP.get(url).status_code, range(2)))
        elapsed = time.monotonic() - started
    assert statuses == [200, 200]
    assert 0.3 <= elapsed < 0.6


def test_requests_are_logged_counted_and_reset(fake: FakeServices) -> None:
    HTTP.get(f"{fake.url}/ctgov/api/v2/studies", params={"query.term": "duchenne"}, headers={"X-Trace": "t1"})
    cf_post(fake, CHAT)
    assert fake.count("trials") == 1 and fake.count("workers-ai", path_contains="/ai/run/@cf/meta/") == 1
    logged = fake.requests[0]
    assert logged.method == "GET" and logged.query == {"query.term": ["duchenne"]} and logged.json is None
    assert logged.headers["x-trace"] == "t1" and logged.status == 200
    assert HTTP.get(f"{fake.url}/nowhere").status_code == 404
    fake.reset_log()
    assert fake.requests == [] and fake.count("trials") == 0


def test_corpus_changes_show_in_the_next_response(fake: FakeServices) -> None:
    url = f"{fake.url}/ctgov/api/v2/studies/NCT99000002"
    assert HTTP.get(url).json()["protocolSection"]["statusModule"]["overallStatus"] == "RECRUITING"
    fake.corpus.trial("NCT99000002").status = "COMPLETED"  # type: ignore[union-attr]
    assert HTTP.get(url).json()["protocolSection"]["statusModule"]["overallStatus"] == "COMPLETED"
    fake.corpus.add_pubmed(Article("99019999", "Exon 53 skipping with zorbarsen-53", "Gene Therapy Reports",
                                   2026, "Oct", [("Ng", "Mei")], [("", "Dystrophin rose to 6%.")]))
    search = HTTP.get(f"{fake.url}/eutils/esearch.fcgi", params={"db": "pubmed", "term": "zorbarsen",
                                                                  "retmode": "json"}).json()
    assert search["esearchresult"]["idlist"] == ["99019999"]


def test_a_query_with_no_matching_words_finds_nothing_anywhere(fake: FakeServices) -> None:
    query = "zebra quantum basketball"
    pubmed = HTTP.get(f"{fake.url}/eutils/esearch.fcgi", params={"db": "pubmed", "term": query,
                                                                  "retmode": "json"}).json()
    assert pubmed["esearchresult"]["count"] == "0" and pubmed["esearchresult"]["idlist"] == []
    epmc = HTTP.get(f"{fake.url}/europepmc/search", params={"query": query, "format": "json"}).json()
    assert epmc["hitCount"] == 0 and epmc["resultList"]["result"] == []
    assert HTTP.get(f"{fake.url}/ctgov/api/v2/studies", params={"query.term": query}).json() == {"studies": []}
    assert pplx(fake, {"query": query}).json()["results"] == []
    assert Corpus.empty().search_pubmed("duchenne") == []


def test_scripted_llm_replies_in_order_then_fails_loudly() -> None:
    llm = ScriptedLLM(["first", LLMReply(text="second")])
    with FakeServices(llm=llm) as fake:
        texts = [cf_post(fake, CHAT).json()["result"]["response"] for _ in range(2)]
        exhausted = cf_post(fake, CHAT)
    assert texts == ["first", "second"]
    assert exhausted.status_code == 500 and "ScriptedLLM has no replies left" in fake.errors[0]


@pytest.mark.parametrize("how", ["module", "script"])
def test_command_line_prints_exports_and_serves_until_terminated(how: str) -> None:
    tests_dir = Path(__file__).resolve().parent.parent
    command = ([sys.executable, "-m", "fakes"] if how == "module"
               else [sys.executable, str(tests_dir / "fakes" / "__main__.py")])
    proc = subprocess.Popen([*command, "--port", "0", "--latency-llm", "0.01"], cwd=tests_dir,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        env: dict[str, str] = {}
        while "no_proxy" not in env:
            line = proc.stdout.readline()  # type: ignore[union-attr]
            assert line.startswith("export "), f"unexpected output {line!r}: {proc.stderr.read()}"  # type: ignore[union-attr]
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = value
        assert HTTP.get(f"{env['MIA_CLINICALTRIALS_BASE_URL']}/studies/NCT99000001").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        proc.kill()
