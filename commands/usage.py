"""`mia usage`: what research cost, per service and per agent."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mia.commands.common import make_table, open_state, out_console, print_json
from mia.commands.completion import complete_agent


def usage(
    agent: Annotated[str | None, typer.Option("--agent", help="Only this agent (name or id).",
                                              autocompletion=complete_agent)] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show spend: requests, tokens and dollars by service and model."""
    from mia.store.agents import get_agent

    _, registry = open_state()
    where, params = "", tuple[str, ...]()
    if agent:
        record = get_agent(registry, agent)
        where, params = "WHERE u.agent_id = ?", (record.id,)
    rows = registry.query(
        "SELECT u.service, COALESCE(u.model, '') AS model, SUM(u.requests) AS requests, "
        "SUM(u.input_tokens) AS input_tokens, SUM(u.output_tokens) AS output_tokens, "
        "ROUND(SUM(u.neurons), 2) AS neurons, ROUND(SUM(u.cost_usd), 6) AS cost_usd, "
        f"SUM(u.latency_ms) AS latency_ms FROM usage u {where} GROUP BY u.service, u.model ORDER BY cost_usd DESC",
        params)
    total = round(sum(r["cost_usd"] or 0 for r in rows), 6)
    kept = {} if agent else _kept_spend(registry)
    if json_out:
        print_json({"agent": agent, "by_service": rows, "total_cost_usd": total,
                    **({} if agent else {"deleted_agents_cost_usd": kept.get("deleted-agent", 0.0),
                                         "discarded_runs_cost_usd": kept.get("discarded-run", 0.0)})})
        return
    numbers = ("requests", "tokens in", "tokens out", "cost")
    table = make_table(("service", "model", *numbers),
                       ((r["service"], r["model"] or "-", f"{r['requests']:,}", f"{r['input_tokens']:,}",
                         f"{r['output_tokens']:,}", f"${r['cost_usd']:.4f}") for r in rows), right=numbers)
    console = out_console()
    if not rows:
        console.print("No usage recorded yet.")
        return
    console.print(table)
    console.print(f"total ${total:.4f}")
    words = {"deleted-agent": "deleted agents", "discarded-run": "runs discarded because they learned nothing"}
    for mark, cost in kept.items():
        if cost:
            console.print(f"  of which ${cost:.4f} by {words[mark]}")


def _kept_spend(registry: Any) -> dict[str, float]:
    """Spend kept from deleted agents and discarded runs (their usage rows are marked, never erased)."""
    from mia.store.runs import SPEND_MARKS

    return {mark: round(float((registry.one(
        "SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM usage WHERE agent_id IS NULL AND step_key LIKE ?",
        (f"{mark}:%",)) or {"cost": 0})["cost"]), 6) for mark in SPEND_MARKS}
