"""The response shapes of each faked service (API_NOTES.md sections 1.3-1.6, 4.3 and 5), built from the corpus."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from fakes import search_filters
from fakes.corpus import Article, Corpus, EuropePMCRecord, Trial

if TYPE_CHECKING:
    from fakes.server import Incoming, LLMReply

# The Search API's documented fields that mia sends (perplexity-py, types/search_create_params.py).
PPLX_SEARCH_FIELDS = frozenset({"query", "max_results", "search_domain_filter", "search_after_date_filter",
                                "search_before_date_filter"})
CTGOV_PARAMS = frozenset({
    "format", "markupFormat", "query.cond", "query.term", "query.locn", "query.titles", "query.intr",
    "query.outc", "query.spons", "query.lead", "query.id", "query.patient", "filter.overallStatus",
    "filter.geo", "filter.ids", "filter.advanced", "filter.synonyms", "postFilter.overallStatus",
    "postFilter.advanced", "aggFilters", "geoDecay", "fields", "sort", "countTotal", "pageSize", "pageToken"})
SSE_PAD = "abcdefghijklmnopqrstuvwxyz0123456789"
WRITE_SIZES = (5, 37, 2, 113, 19, 64, 1, 251, 8, 90)  # cut points land inside frames, even inside UTF-8 chars


@dataclass
class Reply:
    """An HTTP answer: a body with Content-Length, or SSE frames sent with chunked encoding."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    frames: list[bytes] | None = None
    pauses: dict[int, float] = field(default_factory=dict)  # seconds to wait before sending frames[i]
    abort: bool = False  # close the connection after the frames, without ending the chunked body


def json_reply(status: int, obj: Any, **headers: str) -> Reply:
    """A JSON answer."""
    return Reply(status, json.dumps(obj, ensure_ascii=False).encode(), headers=dict(headers))


def cf_error(status: int, message: str, code: int) -> Reply:
    """The Cloudflare v4 error envelope."""
    return json_reply(status, {"errors": [{"message": message, "code": code}], "success": False, "result": {},
                               "messages": []})


def openai_error(status: int, message: str, kind: str) -> Reply:
    """The OpenAI error object."""
    return json_reply(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})


def pplx_error(status: int, message: str, kind: str) -> Reply:
    """The Perplexity error object."""
    return json_reply(status, {"error": {"message": message, "type": kind, "code": status}})


def fault_reply(service: str, status: int) -> Reply:
    """An injected failure in the service's own error format; 429 always carries Retry-After: 1."""
    limited = status == 429
    text = "Too Many Requests" if limited else "Service Unavailable" if status == 503 else f"Error {status}"
    if service == "workers-ai":
        reply = cf_error(status, "AiError: Capacity temporarily exceeded, please try again." if limited
                         else f"AiError: {text}", 3040 if limited else 3050)
    elif service == "openai":
        reply = openai_error(status, f"{text} (fake fault)", "rate_limit_exceeded" if limited else "server_error")
    elif service == "perplexity":
        reply = pplx_error(status, f"{text} (fake fault)", "request_rate_limit_exceeded" if limited else "server_error")
    elif service == "pubmed" and limited:
        reply = json_reply(429, {"error": "API rate limit exceeded", "count": "4", "limit": "3"})
    elif limited or service == "trials":
        reply = json_reply(status, {"message": f"{text} (fake fault)"})
    else:  # E-utilities and Europe PMC front ends answer outages with an HTML page
        page = f"<html><head><title>{status} {text}</title></head><body><h1>{text}</h1></body></html>"
        reply = Reply(status, page.encode(), content_type="text/html")
    if limited:
        reply.headers["Retry-After"] = "1"
    return reply


# -- LLM -----------------------------------------------------------------------------------------------------
def _usage(reply: LLMReply) -> dict[str, int]:
    return {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.prompt_tokens + reply.completion_tokens}


def reply_text(reply: LLMReply) -> str:
    """The text a reply streams or puts in message.content (JSON-mode data is serialised)."""
    return reply.text if reply.data is None else json.dumps(reply.data)


def legacy_result(reply: LLMReply) -> dict[str, Any]:
    """Workers AI legacy `result`: response (text, or the parsed object in JSON mode), tool_calls, usage."""
    result: dict[str, Any] = {"response": reply.text if reply.data is None else reply.data}
    if reply.tool_calls:
        result["tool_calls"] = [{"name": c["name"], "arguments": c.get("arguments", {})} for c in reply.tool_calls]
    result["usage"] = _usage(reply)
    return result


def _tool_call_id(call: dict[str, Any], index: int) -> str:
    return str(call.get("id") or f"call_{index:02d}{uuid.uuid4().hex[:10]}")


def openai_completion(reply: LLMReply, model: str) -> dict[str, Any]:
    """An OpenAI chat.completion object; tool-call arguments are a JSON string."""
    message: dict[str, Any] = {"role": "assistant", "content": reply_text(reply) or (None if reply.tool_calls else "")}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": _tool_call_id(c, i), "type": "function",
             "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))}}
            for i, c in enumerate(reply.tool_calls)]
    usage = {**_usage(reply), "prompt_tokens_details": {"cached_tokens": 0}}
    return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "choices": [{"index": 0, "message": message, "logprobs": None,
                                         "finish_reason": _finish(reply)}],
            "usage": usage}


def _finish(reply: LLMReply) -> str:
    return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")


def sse(obj: Any) -> bytes:
    """One SSE data frame."""
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def text_pieces(text: str) -> list[str]:
    """Token-sized pieces: leading whitespace plus at most 6 visible characters."""
    return re.findall(r"\s*\S{1,6}|\s+", text)


def legacy_frames(reply: LLMReply, tool_form: str = "pieces") -> list[bytes]:
    """Legacy native stream: response pieces with `p` padding, tool calls (llm_dialects), usage, [DONE]."""
    from fakes.llm_dialects import native_tool_frames

    frames = [sse({"response": piece, "p": SSE_PAD[: 1 + i % 17]}) for i, piece in enumerate(text_pieces(
        reply_text(reply)))]
    frames += native_tool_frames(reply, tool_form)
    return [*frames, sse({"response": "", "usage": _usage(reply)}), b"data: [DONE]\n\n"]


def openai_frames(reply: LLMReply, model: str, *, cf_final: bool, include_usage: bool = False) -> list[bytes]:
    """OpenAI chunks; Workers AI native adds a cumulative {"response":"","usage"} frame before [DONE]."""
    base = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]})

    frames = [chunk({"role": "assistant", "content": ""})]
    frames += [chunk({"content": piece}) for piece in text_pieces(reply_text(reply))]
    for i, call in enumerate(reply.tool_calls):
        head = {"index": i, "id": _tool_call_id(call, i), "type": "function",
                "function": {"name": call["name"], "arguments": ""}}
        frames.append(chunk({"tool_calls": [head]}))
        arguments = json.dumps(call.get("arguments", {}))
        frames += [chunk({"tool_calls": [{"index": i, "function": {"arguments": arguments[j:j + 8]}}]})
                   for j in range(0, len(arguments), 8)]
    frames.append(chunk({}, _finish(reply)))
    if cf_final:
        frames.append(sse({"response": "", "usage": _usage(reply)}))
    elif include_usage:
        frames.append(sse({**base, "choices": [], "usage": _usage(reply)}))
    return [*frames, b"data: [DONE]\n\n"]


def awkward_pieces(data: bytes) -> Iterator[bytes]:
    """Cut a stream at fixed, frame-unaligned sizes so clients must buffer by line."""
    start, i = 0, 0
    while start < len(data):
        size = WRITE_SIZES[i % len(WRITE_SIZES)]
        yield data[start:start + size]
        start, i = start + size, i + 1


# -- Perplexity Search ---------------------------------------------------------------------------------------
def perplexity_search(req: Incoming, corpus: Corpus, key: str, allowed: frozenset[str]) -> Reply:
    """POST /perplexity/search: strict body, ranked web results."""
    if req.path != "/perplexity/search" or req.method != "POST":
        return pplx_error(404, f"Not Found: {req.method} {req.path}", "not_found")
    if req.headers.get("authorization") != f"Bearer {key}":
        return pplx_error(401, "Invalid API key", "invalid_api_key")
    body = req.json
    if req.json_error or not isinstance(body, dict):
        return pplx_error(400, f"invalid request body: {req.json_error or 'expected a JSON object'}",
                          "invalid_request")
    for name in body:
        if name not in allowed:
            return pplx_error(400, f'invalid request body: json: unknown field "{name}"', "invalid_request")
    query = body.get("query")
    if isinstance(query, list) and query and all(isinstance(q, str) for q in query):
        query = " ".join(query)
    if not isinstance(query, str) or not query.strip():
        return pplx_error(400, "invalid request body: query must be a non-empty string", "invalid_request")
    limit = body.get("max_results", 10)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 20:
        return pplx_error(400, "invalid request body: max_results must be between 1 and 20", "invalid_request")
    filters = search_filters.perplexity_filters(body)
    if isinstance(filters, str):
        return pplx_error(400, filters, "invalid_request")
    allow, deny, after, before = filters

    def wanted(w: Any) -> bool:
        if (allow and not search_filters.host_within(w.url, allow)) or search_filters.host_within(w.url, deny):
            return False
        day = (w.date or "")[:10]
        return not day or ((not after or day >= after.isoformat()) and (not before or day <= before.isoformat()))

    found = [w for w in corpus.search_web(query) if wanted(w)][:limit]
    results = [{"title": w.title, "url": w.url, "snippet": w.snippet, "date": w.date,
                "last_updated": w.last_updated} for w in found]
    return json_reply(200, {"id": str(uuid.uuid4()), "results": results, "server_time": None})


# -- PubMed E-utilities --------------------------------------------------------------------------------------
def _int_arg(req: Incoming, name: str, default: int) -> int | None:
    try:
        return int(req.arg(name, str(default)))
    except ValueError:
        return None


def esearch_backend_error() -> Reply:
    """ESearch's HTTP 200 whose JSON carries an ERROR instead of a result: what NCBI sends while its search
    backend is down ("Search Backend failed: ...", seen in AlexsLemonade/refinebio#1390 and metapub#73; the
    JSON form {"esearchresult": {"ERROR": ...}} as shown in ropensci/rentrez#208). It passes; retry it."""
    return json_reply(200, {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": {
        "ERROR": "Search Backend failed: Unable to open connection to #PMQuerySrv?dbaf=pubmed"}})


def pubmed(req: Incoming, corpus: Corpus) -> Reply:
    """esearch (JSON), efetch (PubMed XML or text) and esummary (JSON)."""
    tool = req.path.removeprefix("/eutils/")
    if tool == "einfo.fcgi":
        return json_reply(200, {"header": {"type": "einfo", "version": "0.3"},
                                "einforesult": {"dbinfo": [{"dbname": "pubmed", "count": "38000000"}]}})
    if tool not in ("esearch.fcgi", "efetch.fcgi", "esummary.fcgi"):
        return Reply(404, b"<html><body><h1>404 Not Found</h1></body></html>", content_type="text/html")
    if req.arg("db") != "pubmed":
        return json_reply(400, {"error": f"Invalid db name specified: {req.arg('db')}"})
    if tool == "esearch.fcgi":
        retmax, retstart = _int_arg(req, "retmax", 20), _int_arg(req, "retstart", 0)
        if retmax is None or retstart is None:
            return json_reply(400, {"error": "retmax and retstart must be integers"})
        term, pub_types = search_filters.pubmed_term(req.arg("term"))
        years = search_filters.pubmed_years(req.arg("mindate"), req.arg("maxdate"), req.arg("datetype", "pdat"))
        if isinstance(years, str):
            return json_reply(200, {"header": {"type": "esearch", "version": "0.3"},
                                    "esearchresult": {"ERROR": years}})
        found = [a for a in corpus.search_pubmed(term) if years[0] <= a.year <= years[1]
                 and (not pub_types or pub_types & {t.lower() for t in a.pub_types})]
        ids = [a.pmid for a in found[retstart:retstart + retmax]]
        result: dict[str, Any] = {
            "count": str(len(found)), "retmax": str(len(ids)), "retstart": str(retstart), "idlist": ids,
            "translationset": [], "querytranslation": " AND ".join(
                f'"{t}"[All Fields]' for t in req.arg("term").split())}
        if not found:
            result["warninglist"] = {"phrasesignored": [], "quotedphrasesnotfound": [],
                                     "outputmessages": ["No items found."]}
        return json_reply(200, {"header": {"type": "esearch", "version": "0.3"}, "esearchresult": result})
    ids = [i.strip() for i in req.arg("id").split(",") if i.strip()]
    if not ids:
        return json_reply(400, {"error": "Empty id list - nothing todo"})
    articles = [a for a in (corpus.article(i) for i in ids) if a is not None]
    if tool == "esummary.fcgi":
        summary: dict[str, Any] = {"uids": [a.pmid for a in articles]}
        summary.update({a.pmid: _esummary(a) for a in articles})
        return json_reply(200, {"header": {"type": "esummary", "version": "0.3"}, "result": summary})
    if req.arg("retmode", "xml") == "text":
        text = "\n\n\n".join(_pubmed_text(n, a) for n, a in enumerate(articles, 1))
        return Reply(200, text.encode(), content_type="text/plain; charset=UTF-8")
    return Reply(200, pubmed_xml(articles).encode(), content_type="text/xml; charset=UTF-8")


def _esummary(a: Article) -> dict[str, Any]:
    authors = [{"name": f"{last} {''.join(p[0] for p in fore.split())}".strip(), "authtype": "Author",
                "clusterid": ""} for last, fore in a.authors]
    return {"uid": a.pmid, "pubdate": f"{a.year} {a.month}", "epubdate": "", "source": a.journal,
            "authors": authors, "lastauthor": authors[-1]["name"] if authors else "", "title": a.title,
            "volume": a.volume, "issue": a.issue, "pages": a.pages, "lang": ["eng"],
            "pubtype": ["Journal Article"], "fulljournalname": a.journal, "elocationid": f"doi: {a.doi}",
            "articleids": [{"idtype": "pubmed", "idtypen": 1, "value": a.pmid},
                           {"idtype": "doi", "idtypen": 3, "value": a.doi}], "sortpubdate": f"{a.year}/01/01 00:00"}


def markup(text: str) -> str:
    """XML-escape text, keeping the inline <i>, <b>, <sup> and <sub> tags PubMed itself emits."""
    return re.sub(r"&lt;(/?)(i|b|sup|sub)&gt;", r"<\1\2>", escape(text))


def _author_xml(last: str, fore: str) -> str:
    if not fore:
        return f'<Author ValidYN="Y"><CollectiveName>{escape(last)}</CollectiveName></Author>'
    initials = "".join(p[0] for p in fore.split())
    return (f'<Author ValidYN="Y"><LastName>{escape(last)}</LastName><ForeName>{escape(fore)}</ForeName>'
            f"<Initials>{escape(initials)}</Initials></Author>")


# MeSH UIs of PubMed publication types (NLM, "Publication Types with Scope Notes", nlm.nih.gov/mesh/pubtypes.html);
# an article's list sits in Article/PublicationTypeList (NLM MEDLINE/PubMed XML element descriptions).
PUB_TYPE_UI = {"Journal Article": "D016428", "Randomized Controlled Trial": "D016449", "Meta-Analysis": "D017418",
               "Systematic Review": "D000078182", "Review": "D016454", "Case Reports": "D002363",
               "Clinical Trial": "D016430", "Clinical Trial, Phase I": "D017426", "Clinical Trial, Phase II": "D017427",
               "Clinical Trial, Phase III": "D017428", "Clinical Trial, Phase IV": "D017429",
               "Observational Study": "D064888", "Preprint": "D000076942", "Retracted Publication": "D016441"}


def _pub_date(a: Article) -> str:
    """<PubDate>: Year and Month, or for irregular issues one free-text <MedlineDate> such as "1998 Dec-1999 Jan"
    or "2000 Spring" (NLM, PubMed XML element descriptions, PubDate/MedlineDate)."""
    if a.medline_date:
        return f"<PubDate><MedlineDate>{escape(a.medline_date)}</MedlineDate></PubDate>"
    return f"<PubDate><Year>{a.year}</Year><Month>{a.month}</Month></PubDate>"


def _article_xml(a: Article) -> str:
    sections = "".join(
        f'<AbstractText Label="{escape(label)}" NlmCategory="{escape(label)}">{markup(text)}</AbstractText>'
        if label else f"<AbstractText>{markup(text)}</AbstractText>" for label, text in a.abstract)
    ids = f'<ArticleId IdType="pubmed">{a.pmid}</ArticleId><ArticleId IdType="doi">{escape(a.doi)}</ArticleId>'
    if a.pmcid:
        ids += f'<ArticleId IdType="pmc">{a.pmcid}</ArticleId>'
    types = "".join(f'<PublicationType UI="{PUB_TYPE_UI.get(t, "D016428")}">{escape(t)}</PublicationType>'
                    for t in a.pub_types)
    corrections = "" if not a.retraction_in else (
        '<CommentsCorrectionsList><CommentsCorrections RefType="RetractionIn"><RefSource>Retraction notice'
        f'</RefSource><PMID Version="1">{a.retraction_in}</PMID></CommentsCorrections></CommentsCorrectionsList>')
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{a.pmid}</PMID>'
        f'<Article PubModel="Print"><Journal><JournalIssue CitedMedium="Internet"><Volume>{a.volume}</Volume>'
        f"<Issue>{a.issue}</Issue>{_pub_date(a)}</JournalIssue>"
        f"<Title>{escape(a.journal)}</Title></Journal><ArticleTitle>{markup(a.title)}</ArticleTitle>"
        f"<Pagination><MedlinePgn>{a.pages}</MedlinePgn></Pagination>"
        f'<ELocationID EIdType="doi" ValidYN="Y">{escape(a.doi)}</ELocationID>'
        f"<Abstract>{sections}</Abstract>"
        f'<AuthorList CompleteYN="Y">{"".join(_author_xml(*p) for p in a.authors)}</AuthorList>'
        f"<Language>eng</Language><PublicationTypeList>{types}</PublicationTypeList></Article>{corrections}"
        f"</MedlineCitation><PubmedData><PublicationStatus>ppublish</PublicationStatus>"
        f"<ArticleIdList>{ids}</ArticleIdList></PubmedData></PubmedArticle>")


def pubmed_xml(articles: list[Article]) -> str:
    """An efetch PubmedArticleSet document."""
    return ('<?xml version="1.0" ?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January'
            ' 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>'
            + "\n".join(_article_xml(a) for a in articles) + "</PubmedArticleSet>\n")


def _pubmed_text(n: int, a: Article) -> str:
    names = ", ".join(f"{last} {''.join(p[0] for p in fore.split())}".strip() for last, fore in a.authors)
    body = "\n\n".join(f"{label}: {text}" if label else text for label, text in a.abstract)
    return (f"{n}. {a.journal}. {a.year} {a.month};{a.volume}({a.issue}):{a.pages}. doi: {a.doi}\n\n{a.title}\n\n"
            f"{names}.\n\n{body}\n\nPMID: {a.pmid}")


# -- Europe PMC ------------------------------------------------------------------------------------------------
# MeSH entry terms -> the preferred term Europe PMC adds with synonym=true (a few, for the tests).
MESH_SYNONYMS = {"heart attack": "myocardial infarction", "aspirin": "acetylsalicylic acid",
                 "bell palsy": "facial paralysis", "dmd": "duchenne muscular dystrophy"}


def europepmc(req: Incoming, corpus: Corpus) -> Reply:
    """GET /europepmc/search with cursorMark paging; lite, core and idlist result types.

    `synonym` defaults to false: only with `synonym=true` is the query expanded with MeSH synonyms, which the
    website always does (Europe PMC REST docs, europepmc.org/RestfulWebService "synonym"; rOpenSci europepmc
    `epmc_search`: "In order to replicate results from the website, with the Rest API you need to turn
    synonyms ON!").
    """
    full = re.fullmatch(r"/europepmc/(PMC\d+)/fullTextXML", req.path)
    if full:
        return full_text_xml(corpus, full[1])
    if req.path != "/europepmc/search":
        return json_reply(404, {"errCode": 404, "errMsg": f"no such resource: {req.path}"})
    kind, size = req.arg("resultType", "lite"), _int_arg(req, "pageSize", 25)
    if req.arg("format") != "json" or kind not in ("lite", "core", "idlist") or size is None or not 1 <= size <= 1000:
        return json_reply(400, {"errCode": 400, "errMsg": "the fake supports format=json, resultType"
                                " lite|core|idlist and pageSize 1-1000"})
    cursor = req.arg("cursorMark", "*")
    offset = int(cursor[5:]) if cursor.startswith("AoIIP") and cursor[5:].isdigit() else 0
    query = req.arg("query")
    if req.arg("synonym", "false").lower() == "true":  # off unless asked, as on the real REST API
        query = " ".join([query, *(extra for term, extra in MESH_SYNONYMS.items() if term in query.lower())])
    query, pub_types, years = search_filters.europepmc_query(query)
    found = [r for r in corpus.search_europepmc(query) if years[0] <= r.pub_year <= years[1]
             and (not pub_types or pub_types & {t.lower() for t in r.pub_types})]
    page = found[offset:offset + size]
    return json_reply(200, {
        "version": "6.9", "hitCount": len(found), "nextCursorMark": f"AoIIP{offset + len(page)}" if page else cursor,
        "request": {"queryString": req.arg("query"), "resultType": kind, "cursorMark": cursor, "pageSize": size,
                    "sort": req.arg("sort"), "synonym": req.arg("synonym", "false") == "true"},
        "resultList": {"result": [_epmc_record(r, kind) for r in page]}})


def full_text_xml(corpus: Corpus, pmcid: str) -> Reply:
    """GET /{PMCID}/fullTextXML: the open-access article as JATS XML (front/abstract, body/sec with title and p,
    back/ref-list), or 404 when Europe PMC holds no full text (Europe PMC RESTful Web Service, fullTextXML)."""
    article = corpus.by_pmcid(pmcid)
    if article is None:
        return Reply(404, b"", content_type="text/plain")
    sections = article.full_text or (("Introduction", article.title),
                                     ("Results", " ".join(text for _, text in article.abstract)))
    body = "".join(f"<sec><title>{escape(title)}</title><p>{markup(text)}</p>"
                   '<fig id="f1"><caption><p>Figure caption text.</p></caption></fig></sec>'
                   for title, text in sections)
    abstract = "".join(f"<p>{markup(text)}</p>" for _, text in article.abstract)
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal '
           'Archiving and Interchange DTD v1.3 20210610//EN" "JATS-archivearticle1-3.dtd">\n'
           f'<article article-type="research-article"><front><article-meta><article-id pub-id-type="pmcid">'
           f"{pmcid}</article-id><title-group><article-title>{markup(article.title)}</article-title></title-group>"
           f"<abstract>{abstract}</abstract></article-meta></front><body>{body}</body>"
           "<back><ref-list><ref><mixed-citation>A cited paper.</mixed-citation></ref></ref-list></back></article>")
    return Reply(200, xml.encode(), content_type="application/xml;charset=UTF-8")


def _epmc_record(r: EuropePMCRecord, kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id, "source": r.source}
    out.update({k: v for k, v in (("pmid", r.pmid), ("pmcid", r.pmcid), ("doi", r.doi)) if v})
    if kind == "idlist":
        return out
    out.update({"title": r.title, "authorString": r.author_string, "pubYear": str(r.pub_year),
                "isOpenAccess": "Y" if r.open_access else "N", "inEPMC": "Y" if r.pmcid else "N",
                "inPMC": "Y" if r.pmcid else "N", "citedByCount": r.cited_by,
                "firstPublicationDate": r.first_publication_date})
    if r.source == "PPR":
        out["pubTypeList"] = {"pubType": ["Preprint"]}
    elif r.pub_types:  # core and lite results carry pubTypeList (Europe PMC REST reference)
        out["pubTypeList"] = {"pubType": list(r.pub_types)}
    if kind == "lite":
        if r.journal:
            out["journalTitle"] = r.journal
        return out
    if r.journal:
        out["journalInfo"] = {"yearOfPublication": r.pub_year, "journal": {"title": r.journal}}
    out["abstractText"] = r.abstract_html
    return out


# -- ClinicalTrials.gov v2 -------------------------------------------------------------------------------------
def trials(req: Incoming, corpus: Corpus) -> Reply:
    """GET /ctgov/api/v2/studies (query.*, filter.overallStatus, pageToken paging) and /studies/{nctId}."""
    m = re.fullmatch(r"/ctgov/api/v2/(studies(?:/(NCT\d{8}))?|version)", req.path)
    if not m:
        return json_reply(404, {"message": f"Not found: {req.path}"})
    if m[1] == "version":
        return json_reply(200, {"apiVersion": "2.0.5", "dataTimestamp": "2026-11-20T09:00:00"})
    unknown = sorted(set(req.query) - CTGOV_PARAMS)
    if unknown:
        return json_reply(400, {"message": f"Unknown parameter(s): {', '.join(unknown)}"})
    if req.arg("format", "json") != "json":
        return json_reply(400, {"message": "the fake only serves format=json"})
    if m[2]:
        study = corpus.trial(m[2])
        return json_reply(200, study_json(study)) if study else json_reply(404, {"message": f"{m[2]} not found"})
    size, offset = _int_arg(req, "pageSize", 10), req.arg("pageToken", "0")
    if size is None or not 0 <= size <= 1000 or not offset.isdigit():
        return json_reply(400, {"message": "pageSize must be 0-1000 and pageToken one returned by this API"})
    found = _matching_trials(req, corpus)
    if found is None:
        return json_reply(400, {"message": "filter.advanced: the fake understands AREA[Phase](...) and "
                                           "AREA[StartDate]RANGE[...] joined by AND"})
    start, size = int(offset), size or 10
    body: dict[str, Any] = {"studies": [study_json(t) for t in found[start:start + size]]}
    if start + size < len(found):
        body["nextPageToken"] = str(start + size)
    if req.arg("countTotal") == "true":
        body["totalCount"] = len(found)
    return json_reply(200, body)


def _matching_trials(req: Incoming, corpus: Corpus) -> list[Trial] | None:
    texts = [" ".join(req.query[k]) for k in sorted(req.query) if k.startswith("query.")]
    texts = [text for text in texts if text.strip()]
    found = corpus.search_trials(" ".join(texts)) if texts else list(corpus.trials)
    for text in texts:  # the API ANDs its query.* parameters
        matching = {id(t) for t in corpus.search_trials(text)}
        found = [t for t in found if id(t) in matching]
    statuses = {s for v in req.query.get("filter.overallStatus", []) for s in re.split(r"[,|]", v.upper()) if s}
    if statuses:
        found = [t for t in found if t.status in statuses]
    advanced = req.arg("filter.advanced")
    if advanced:
        parsed = search_filters.ctgov_advanced(advanced)
        if parsed is None:
            return None
        phases, (low, high) = parsed
        found = [t for t in found if (not phases or phases & set(t.phases))
                 and search_filters.in_range(t.start_date, low, high)]
    return found


def study_json(t: Trial) -> dict[str, Any]:
    """One study in the v2 JSON shape."""
    design: dict[str, Any] = {"studyType": t.study_type}
    if t.phases:
        design["phases"] = list(t.phases)
    design["enrollmentInfo"] = {"count": t.enrollment, "type": "ACTUAL" if t.status == "COMPLETED" else "ESTIMATED"}
    interventions = [{"type": kind, "name": name} for kind, _, name in (i.partition(": ") for i in t.interventions)]
    protocol: dict[str, Any] = {
        "identificationModule": {"nctId": t.nct_id, "briefTitle": t.brief_title, "officialTitle": t.official_title},
        "statusModule": {"statusVerifiedDate": t.last_update[:7], "overallStatus": t.status,
                         "startDateStruct": {"date": t.start_date},
                         "lastUpdatePostDateStruct": {"date": t.last_update, "type": "ACTUAL"}},
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": t.sponsor, "class": "INDUSTRY"}},
        "descriptionModule": {"briefSummary": t.summary},
        "conditionsModule": {"conditions": list(t.conditions)},
        "designModule": design,
    }
    if interventions:
        protocol["armsInterventionsModule"] = {"interventions": interventions}
    return {"protocolSection": protocol, "hasResults": t.has_results}
