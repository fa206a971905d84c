"""The approvals panel: what agents want to do outside mia, shown in full, approved or denied by a person."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList, Static
from textual.widgets.option_list import Option

from mia.errors import MiaError
from mia.settings import Settings
from mia.store import approvals as approval_store
from mia.store.db import Registry


def describe(record: approval_store.ApprovalRecord) -> str:
    """Exactly what will be done, and why the agent wants it."""
    lines = [f"Approval {record.id} · {record.status} · requested by {record.requested_by}"]
    if record.after_untrusted_text:
        lines.append("! Requested after reading text from the web or a reply: check that it is what you want.")
    lines.append(f"Why: {record.reason}")
    payload = record.payload
    if record.action == "send_email":
        lines += [f"To:      {payload['to']}", f"Subject: {payload['subject']}", "", payload["body"]]
    else:
        lines += [record.summary, str(payload)]
    return "\n".join(lines)


class ApprovalsScreen(ModalScreen[None]):
    """Pending approvals; `a` then `y` approves (sends), `d` denies, Escape closes."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Close"), Binding("a", "approve", "Approve…"),
                Binding("y", "confirm", "Yes, do it", show=False), Binding("d", "deny", "Deny")]

    def __init__(self, settings: Settings, registry: Registry) -> None:
        super().__init__()
        self.settings, self.registry = settings, registry
        self.records: list[approval_store.ApprovalRecord] = []
        self.armed: int | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="approvals-box"):
            yield Label("Waiting for your approval", id="approvals-title")
            with Horizontal():
                yield OptionList(id="approvals-list")
                yield Static("", id="approval-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def reload(self) -> None:
        self.records = approval_store.list_approvals(self.registry)
        options = self.query_one("#approvals-list", OptionList)
        options.clear_options()
        options.add_options([Option(f"#{r.id} {r.summary}"[:60], id=str(r.id)) for r in self.records])
        detail = self.query_one("#approval-detail", Static)
        detail.update(describe(self.records[0]) if self.records else "Nothing waits for your approval.")
        if self.records:
            options.highlighted = 0

    def selected(self) -> approval_store.ApprovalRecord | None:
        index = self.query_one("#approvals-list", OptionList).highlighted
        return self.records[index] if index is not None and index < len(self.records) else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        record = self.selected()
        self.armed = None
        if record is not None:
            self.query_one("#approval-detail", Static).update(describe(record))

    def action_approve(self) -> None:
        record = self.selected()
        if record is not None:
            self.armed = record.id
            self.notify(f"Press y to carry out approval #{record.id} exactly as shown.", title="Approve?")

    def action_confirm(self) -> None:
        if self.armed is not None:
            self.carry_out(self.armed)
            self.armed = None

    def action_deny(self) -> None:
        record = self.selected()
        if record is not None:
            from mia.agents.outreach.mail import deny

            deny(self.settings, self.registry, record.id, note="denied in mia chat")
            self.notify(f"Approval #{record.id} denied.", title="Approvals")
            self.reload()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def carry_out(self, approval_id: int) -> None:
        import httpx

        from mia.agents.outreach.mail import approve

        try:
            with httpx.Client(timeout=30) as http:
                done = approve(self.settings, self.registry, approval_id, http=http)
            self.app.call_from_thread(self.notify, f"Approval #{approval_id}: {done.status}.", title="Approvals")
        except MiaError as exc:
            self.app.call_from_thread(self.notify, f"{exc.message}\n{exc.hint or ''}", title="Approval failed",
                                      severity="error")
        self.app.call_from_thread(self.reload)
