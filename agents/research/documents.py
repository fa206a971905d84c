"""A research agent's own documents: add them (the agent then searches the `file` source), list, remove."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mia.settings import Settings
from mia.store import agents as agent_store
from mia.store.db import Registry
from mia.store.workspace import Workspace
from mia.tools.local_files import AddOutcome, FileLibrary, expand_paths


def library_of(settings: Settings, agent: agent_store.AgentRecord) -> FileLibrary:
    """The documents in the agent's folder."""
    return FileLibrary(Workspace(settings.workspace_root).agent_dir(agent.slug))


def add_agent_files(settings: Settings, registry: Registry, ref: str, patterns: Sequence[str]
                    ) -> tuple[agent_store.AgentRecord, AddOutcome]:
    """Copy documents (paths, globs, folders) into the agent's folder; its next runs search them as `file`.

    Raises NotFoundError for an unknown agent and UsageError when a pattern matches nothing (nothing is copied
    then); files that cannot be read are skipped, each with its reason in `AddOutcome.skipped`.
    """
    agent = agent_store.get_agent(registry, ref)
    paths = expand_paths(patterns, exclude=settings.home)
    outcome = library_of(settings, agent).add(paths, max_bytes=int(settings.files.max_mb * 1_000_000))
    if outcome.added and "file" not in agent.source_list:
        agent_store.set_status(registry, agent.id, agent.status, sources=",".join([*agent.source_list, "file"]))
        agent = agent_store.get_agent(registry, agent.id)
    return agent, outcome


def remove_agent_file(settings: Settings, registry: Registry, ref: str, name: str) -> dict[str, Any]:
    """Remove one document and its passages; the agent stops searching `file` when none is left."""
    agent = agent_store.get_agent(registry, ref)
    library = library_of(settings, agent)
    entry = library.remove(name)
    if not library.entries() and "file" in agent.source_list:
        agent_store.set_status(registry, agent.id, agent.status,
                               sources=",".join(s for s in agent.source_list if s != "file"))
    return entry
