"""Messages the app's workers post to the UI thread (each is handled by an `on_<name>` method of MiaApp)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:
    from mia.agents.chat.background import BackgroundJob
    from mia.agents.chat.plan_gate import PlanReview
    from mia.agents.chat.tool_registry import ToolOutcome
    from mia.store.conversations import ConversationRecord, MessageRecord
    from mia.tui.panel import AgentRow


@dataclass
class AnswerText(Message):
    """A piece of the answer of turn `turn`."""

    turn: int
    text: str


@dataclass
class ToolUsed(Message):
    """The assistant ran a tool during turn `turn`."""

    turn: int
    outcome: ToolOutcome


@dataclass
class TurnEnded(Message):
    """Turn `turn` is over: answered, cancelled, or failed with an error."""

    turn: int
    error: str | None = None
    hint: str | None = None
    cancelled: bool = False


@dataclass
class ConversationLoaded(Message):
    """A conversation and its stored messages, read in a worker."""

    conversation: ConversationRecord
    messages: list[MessageRecord]


@dataclass
class AgentsRead(Message):
    """A fresh read of the agents for the panel."""

    rows: list[AgentRow]


@dataclass
class ResearchEnded(Message):
    """A background research run finished (done or failed)."""

    job: BackgroundJob


@dataclass
class PlanDrafted(Message):
    """A research started from the conversation drafted its plan and waits for the person (research.review_plans)."""

    review: PlanReview


@dataclass
class Failed(Message):
    """Something in a worker failed; shown as a notification."""

    message: str
    hint: str | None = None
