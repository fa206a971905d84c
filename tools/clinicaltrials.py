"""ClinicalTrials.gov API v2 (`GET /studies`): registered trials with status, phases and sponsor."""

from __future__ import annotations

from mia.models import Source
from mia.tools.search import CamelModel, SearchResult, ServiceClient, clamp, clean, trim

MAX_RESULTS = 1000  # pageSize limit


class _DateStruct(CamelModel):
    date: str | None = None


class _Identification(CamelModel):
    nct_id: str | None = None
    brief_title: str | None = None
    official_title: str | None = None


class _Status(CamelModel):
    overall_status: str | None = None
    start_date_struct: _DateStruct | None = None
    last_update_post_date_struct: _DateStruct | None = None


class _Description(CamelModel):
    brief_summary: str | None = None


class _Conditions(CamelModel):
    conditions: list[str] = []


class _Enrollment(CamelModel):
    count: int | None = None
    type: str | None = None  # ACTUAL or ESTIMATED


class _Design(CamelModel):
    """`protocolSection.designModule` (ClinicalTrials.gov study data structure: studyType, phases,
    enrollmentInfo {count, type})."""

    study_type: str | None = None
    phases: list[str] = []
    enrollment_info: _Enrollment | None = None


class _Sponsor(CamelModel):
    name: str | None = None


class _Sponsors(CamelModel):
    lead_sponsor: _Sponsor | None = None


class _Protocol(CamelModel):
    identification_module: _Identification | None = None
    status_module: _Status | None = None
    description_module: _Description | None = None
    conditions_module: _Conditions | None = None
    design_module: _Design | None = None
    sponsor_collaborators_module: _Sponsors | None = None


class _Study(CamelModel):
    protocol_section: _Protocol | None = None
    has_results: bool | None = None


class _StudiesResponse(CamelModel):
    studies: list[_Study]


class ClinicalTrials(ServiceClient):
    """ClinicalTrials.gov v2; keyless, about 50 requests a minute per address."""

    name = "trials"
    service = "ClinicalTrials.gov"
    setting = "clinicaltrials.base_url"

    rate = (50 / 60, 10)

    def search(self, query: str, *, max_results: int = 8) -> SearchResult:
        """Search registered studies for `query` (v2 has no filter.phase; phases come back per study)."""
        calls = self.calls()
        params: dict[str, str | int] = {"query.term": query, "pageSize": clamp(max_results, MAX_RESULTS),
                                        "format": "json", "countTotal": "false", **self._filter_params()}
        payload = calls.validate(_StudiesResponse, calls.get_json("studies", params))
        sources = [source for study in payload.studies if (source := to_source(study, query))]
        return SearchResult(sources=self.kept(sources), usage=calls.usage())

    def _filter_params(self) -> dict[str, str | int]:
        """filter.overallStatus (comma-separated statuses) and an Essie filter.advanced expression for phases,
        AREA[Phase](PHASE2 OR PHASE3), and start dates, AREA[StartDate]RANGE[2020-01-01,MAX]
        (ClinicalTrials.gov API v2, clinicaltrials.gov/data-api/api and its search-areas reference)."""
        f = self.filters
        params: dict[str, str | int] = {}
        if f.trial_status:
            params["filter.overallStatus"] = ",".join(f.trial_status)
        clauses = []
        if f.trial_phase:
            clauses.append("AREA[Phase](" + " OR ".join(f.trial_phase) + ")")
        if f.since or f.until:
            low = f"{f.since}-01-01" if f.since else "MIN"
            high = f"{f.until}-12-31" if f.until else "MAX"
            clauses.append(f"AREA[StartDate]RANGE[{low},{high}]")
        if clauses:
            params["filter.advanced"] = " AND ".join(clauses)
        return params


def to_source(study: _Study, query: str) -> Source | None:
    """A Source for one study, or None when it has no NCT id."""
    protocol = study.protocol_section or _Protocol()
    ident = protocol.identification_module or _Identification()
    nct = clean(ident.nct_id)
    if not nct:
        return None
    status = protocol.status_module or _Status()
    design = protocol.design_module or _Design()
    sponsors = protocol.sponsor_collaborators_module or _Sponsors()
    start = status.start_date_struct.date if status.start_date_struct else None
    updated = status.last_update_post_date_struct.date if status.last_update_post_date_struct else None
    summary = protocol.description_module.brief_summary if protocol.description_module else None
    conditions = protocol.conditions_module.conditions if protocol.conditions_module else []
    return Source(
        kind="trial",
        url=f"https://clinicaltrials.gov/study/{nct}",
        title=clean(ident.brief_title) or clean(ident.official_title) or nct,
        identifier=nct,
        date=start or updated,
        snippet=trim(summary or (f"Conditions: {', '.join(conditions)}" if conditions else "")),
        status=status.overall_status,
        phases=list(design.phases),
        sponsor=sponsors.lead_sponsor.name if sponsors.lead_sponsor else None,
        query=query,
        enrollment=design.enrollment_info.count if design.enrollment_info else None,
        enrollment_type=design.enrollment_info.type if design.enrollment_info else None,
        study_type=design.study_type,
    )
