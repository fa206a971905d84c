"""The plan card: a research's drafted plan in the conversation, to accept, edit (in place) or cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Static, TextArea

from mia.agents.research.planning import HELP
from mia.errors import UsageError

if TYPE_CHECKING:
    from mia.agents.chat.plan_gate import PlanReview

IN_APP_HELP = "# Edit the plan, then press Ctrl+S (or Use edited plan) to see it again before you accept it."


def plan_lines(plan: list[dict[str, Any]]) -> str:
    """Sub-questions numbered, each with its query and the queries that replace it for one source."""
    lines = []
    for n, sq in enumerate(plan, start=1):
        lines.append(f"{n}. {sq['question']}")
        lines.append(f"   query: {sq['query']}")
        lines += [f"   {source}: {query}" for source, query in (sq.get("queries") or {}).items()]
    return "\n".join(lines)


class PlanCard(Vertical):
    """One PlanReview: Accept searches the plan shown, Edit opens its text form, Cancel searches nothing."""

    BINDINGS = [Binding("ctrl+s", "save_edit", "Use edited plan", show=False),
                Binding("left", "app.focus_previous", show=False),  # between the buttons (the text keeps its keys)
                Binding("right", "app.focus_next", show=False)]

    def __init__(self, review: PlanReview) -> None:
        super().__init__(classes="plan-card")
        self.review = review
        self.border_title = f"Plan for research '{review.name}'"
        self.border_subtitle = f"planning cost ${review.cost_usd:.4f}"

    def compose(self) -> ComposeResult:
        yield Static(self._summary(), classes="plan-body", markup=False)
        editor = TextArea(self._text(), classes="plan-text", soft_wrap=True)
        editor.display = False
        yield editor
        yield Static("", classes="plan-error", markup=False)  # under the text, beside the buttons
        with Horizontal(classes="plan-buttons plan-review"):
            yield Button("Accept", classes="plan-accept", variant="success")
            yield Button("Edit", classes="plan-edit", variant="primary")
            yield Button("Cancel", classes="plan-cancel", variant="error")
        with Horizontal(classes="plan-buttons plan-editing"):
            yield Button("Use edited plan", classes="plan-save", variant="success")
            yield Button("Discard edits", classes="plan-discard")

    def on_mount(self) -> None:
        self._mode("review")
        box = self.app.query_one("#message", Input)
        if self.review.pending and box.has_focus and not box.value:  # not while the person is typing
            self.query_one(".plan-accept", Button).focus()

    def _text(self) -> str:
        """The plan's text form, its first help line saying how this editor is left."""
        return self.review.text().replace(HELP.splitlines()[0], IN_APP_HELP, 1)

    def action_save_edit(self) -> None:
        if self.query_one(".plan-text").display:
            self.save_edit()

    def _summary(self) -> str:
        return (f"{self.review.question}\nSearched once you accept, and again by its triggers:\n\n"
                f"{plan_lines(self.review.plan)}")

    def _mode(self, mode: str) -> None:
        """review (the plan and Accept/Edit/Cancel), editing (the text form), done (what was decided)."""
        self.query_one(".plan-body").display = mode != "editing"
        self.query_one(".plan-text").display = mode == "editing"
        self.query_one(".plan-review").display = mode == "review"
        self.query_one(".plan-editing").display = mode == "editing"
        if mode != "editing":
            self._error("")
        self.set_class(mode == "done", "decided")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        classes = event.button.classes
        if "plan-accept" in classes:
            self.review.accept()
            self._decided(f"Accepted: searching {len(self.review.plan)} sub-question(s).")
        elif "plan-cancel" in classes:
            self.review.cancel()
            self._decided("Cancelled: nothing will be searched (the planning spend is kept).")
        elif "plan-edit" in classes:
            area = self.query_one(".plan-text", TextArea)
            area.load_text(self._text())
            self._mode("editing")
            area.focus()
        elif "plan-save" in classes:
            self.save_edit()
        elif "plan-discard" in classes:
            self._mode("review")

    def save_edit(self) -> None:
        """Read the edited text back; a mistake is shown and the editor stays open."""
        try:
            self.review.edit(self.query_one(".plan-text", TextArea).text)
        except UsageError as exc:
            self._error(f"✗ {exc.message} {exc.hint or ''}".rstrip())
            self.query_one(".plan-text", TextArea).focus()  # back to the text, to fix it
            self.call_after_refresh(self.scroll_visible, animate=False)
            return
        self.query_one(".plan-body", Static).update(self._summary())
        self._mode("review")
        self.query_one(".plan-accept", Button).focus()

    def _error(self, text: str) -> None:
        error = self.query_one(".plan-error", Static)
        error.update(text)
        error.display = bool(text)

    def _decided(self, outcome: str) -> None:
        self.query_one(".plan-body", Static).update(f"{self._summary()}\n\n{outcome}")
        self._mode("done")
        self.app.query_one("#message").focus()
