"""Research started from a conversation: each run in its own thread, registry connection and HTTP client."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from mia.agents.chat.plan_gate import PlanCancelled, PlanReview
from mia.errors import MiaError
from mia.store import conversations as conv_store
from mia.store.db import Registry, open_registry

if TYPE_CHECKING:
    from mia.agents.research.service import ResearchRequest, ResearchResult
    from mia.settings import Settings

Work = Callable[[Registry, httpx.Client], "ResearchResult"]


@dataclass
class BackgroundJob:
    """One research run going on behind the conversation."""

    kind: str  # research | follow-up | resume
    name: str
    conversation_id: str | None
    status: str = "running"
    message: str = ""
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def running(self) -> bool:
        return self.status == "running"


def _noop(kind: str, data: dict[str, Any]) -> None:
    """Progress reaches front ends through the agent's status in the registry, not through events."""


class Background:
    """Starts research runs in daemon threads and reports how each ended into its conversation."""

    def __init__(self, settings: Settings, *, on_done: Callable[[BackgroundJob], object] | None = None,
                 http_factory: Callable[[], httpx.Client] | None = None,
                 on_plan: Callable[[PlanReview], object] | None = None) -> None:
        """`on_plan`: a front end that shows drafted plans; with it and `research.review_plans` on, a new
        research waits for the person's decision on its plan (PlanReview.accept / cancel) before searching."""
        self.settings = settings
        self.on_done = on_done
        self.on_plan = on_plan
        self.reviews: list[tuple[PlanReview, threading.Thread]] = []  # each waiting plan and its run's thread
        self.http_factory = http_factory or self._default_http
        self.jobs: list[BackgroundJob] = []
        self._lock = threading.Lock()

    def _default_http(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(self.settings.llm.timeout, connect=10.0), follow_redirects=True)

    def spawn(self, request: ResearchRequest, *, conversation_id: str | None) -> BackgroundJob:
        """Start a new research agent (its name must be set in the request)."""
        from mia.agents.research.service import spawn_research

        def work(registry: Registry, http: httpx.Client) -> ResearchResult:
            reviewed = self._reviewed(request, conversation_id, registry, http) if self.reviewing else request
            return spawn_research(self.settings, registry, reviewed, http=http, on_event=_noop)

        return self._start("research", request.name or "research", conversation_id, work)

    def follow_up(self, name: str, instruction: str, *, conversation_id: str | None) -> BackgroundJob:
        """Ask an existing agent a follow-up: a new report version."""
        from mia.agents.research.followup import follow_up_research

        def work(registry: Registry, http: httpx.Client) -> ResearchResult:
            return follow_up_research(self.settings, registry, name, instruction=instruction, http=http,
                                      on_event=_noop)

        return self._start("follow-up", name, conversation_id, work)

    def resume(self, name: str, *, conversation_id: str | None) -> BackgroundJob:
        """Finish an agent's interrupted run."""
        from mia.agents.research.service import resume_research

        def work(registry: Registry, http: httpx.Client) -> ResearchResult:
            return resume_research(self.settings, registry, name, http=http, on_event=_noop)

        return self._start("resume", name, conversation_id, work)

    @property
    def reviewing(self) -> bool:
        """True when new research shows its plan to the person first."""
        return self.on_plan is not None and self.settings.research.review_plans

    def _reviewed(self, request: ResearchRequest, conversation_id: str | None, registry: Registry,
                  http: httpx.Client) -> ResearchRequest:
        from mia.agents.chat.plan_gate import draft, reviewed_request

        review, usages = draft(self.settings, request, http, conversation_id)
        entry = (review, threading.current_thread())
        with self._lock:
            self.reviews.append(entry)
        assert self.on_plan is not None
        self.on_plan(review)
        try:
            return reviewed_request(request, review, usages, registry)
        finally:
            with self._lock:
                self.reviews.remove(entry)

    def pending_reviews(self) -> list[PlanReview]:
        """Plans waiting for the person's decision."""
        with self._lock:
            return [review for review, _ in self.reviews if review.pending]

    def cancel_reviews(self, timeout: float = 2.0) -> None:
        """Cancel every plan still waiting (the front end is closing); its run records the planning spend."""
        with self._lock:
            waiting = [(review, thread) for review, thread in self.reviews if review.pending]
        for review, _ in waiting:
            review.cancel()
        for _, thread in waiting:
            thread.join(timeout / len(waiting))

    def running(self) -> list[BackgroundJob]:
        """Jobs that have not finished."""
        with self._lock:
            return [job for job in self.jobs if job.running]

    def reserved(self, name: str) -> bool:
        """True while a job is about to create an agent of this name."""
        return any(job.name == name for job in self.running())

    def wait(self, timeout: float | None = None) -> None:
        """Block until every job has finished (or the timeout has passed)."""
        for job in list(self.jobs):
            if job.thread is not None:
                job.thread.join(timeout)

    def _start(self, kind: str, name: str, conversation_id: str | None, work: Work) -> BackgroundJob:
        job = BackgroundJob(kind, name, conversation_id)
        job.thread = threading.Thread(target=self._run, args=(job, work), name=f"mia-{kind}:{name}", daemon=True)
        with self._lock:
            self.jobs.append(job)
        job.thread.start()
        return job

    def _run(self, job: BackgroundJob, work: Work) -> None:
        """The thread: its own registry connection and HTTP client; the outcome becomes an event message."""
        try:
            registry = open_registry(self.settings.registry_path)
        except MiaError as exc:
            self._finish(job, "failed", f"Research agent '{job.name}' could not start: {exc.message}", None)
            return
        try:
            with self.http_factory() as http:
                status, text = _outcome(job, work, registry, http)
            self._finish(job, status, text, registry)
        finally:
            registry.close()

    def _finish(self, job: BackgroundJob, status: str, text: str, registry: Registry | None) -> None:
        job.status, job.message = status, text
        if registry is not None and job.conversation_id:
            conv_store.add_message(registry, job.conversation_id, "event", text,
                                   tool_calls={"kind": job.kind, "agent": job.name, "status": status})
        if self.on_done is not None:
            self.on_done(job)


def _outcome(job: BackgroundJob, work: Work, registry: Registry, http: httpx.Client) -> tuple[str, str]:
    """(status, message for the conversation) of one run; a crash in the run is reported, not lost."""
    what = {"research": "Research agent", "follow-up": "The follow-up of agent",
            "resume": "The resumed run of agent"}[job.kind]
    try:
        result = work(registry, http)
    except PlanCancelled as exc:
        return "cancelled", exc.message
    except MiaError as exc:
        hint = f" {exc.hint}" if exc.hint else ""
        return "failed", f"{what} '{job.name}' failed: {exc.message}{hint}"
    except Exception as exc:  # a bug must not vanish with its thread
        return "failed", f"{what} '{job.name}' failed with an internal error ({type(exc).__name__}: {exc})."
    job.name = result.agent.slug
    cost = result.usage.get("cost_usd", 0.0)
    return result.status, (f"{what} '{result.agent.slug}' finished: {result.status.replace('_', ' ')}, "
                           f"{result.sources} sources, ${cost:.4f}, report v{result.agent.report_version} at "
                           f"{result.report_path}.")
