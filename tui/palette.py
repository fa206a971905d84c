"""The command palette: new research, open a report, resume a run, usage, switch conversation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from mia.tui.app import MiaApp

Command = tuple[str, Callable[[], Any], str]
UNFINISHED = ("failed", "running", "planning", "searching", "extracting", "writing", "verifying")


class MiaCommands(Provider):
    """mia's own commands, built from the agents and conversations in the registry."""

    async def startup(self) -> None:
        app = cast("MiaApp", self.app)
        self.conversations = await asyncio.to_thread(app.read_conversations)

    def commands(self) -> list[Command]:
        """Every command with its callback and help text."""
        app = cast("MiaApp", self.app)
        found: list[Command] = [
            ("New research…", app.action_new_research, "Start a research agent on a question"),
            ("New conversation", app.action_new_conversation, "Start an empty conversation"),
            ("Show usage", app.action_show_usage, "What mia has spent, by service and model"),
            ("Approvals", app.action_show_approvals, "Drafts and other actions waiting for your approval"),
        ]
        running = {job.name for job in app.background.running()} if app.background else set()
        for row in app.agent_panel.rows_by_id.values():
            found.append((f"Open report: {row.slug}", partial(app.open_report, row.id), row.question[:80]))
            if row.status in UNFINISHED and row.slug not in running:
                found.append((f"Resume run: {row.slug}", partial(app.resume_agent, row.slug),
                              f"Finish its {row.status} run"))
        for conversation in getattr(self, "conversations", []):
            label = f"Switch conversation: {conversation['title']}"
            found.append((label, partial(app.switch_conversation, conversation["id"]),
                          f"{conversation['messages']} messages · {conversation['updated_at'][:16]}"))
        return found

    async def discover(self) -> Hits:
        for name, callback, help_text in self.commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self.commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
