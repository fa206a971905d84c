"""`mia usage`: what research cost, per service and per agent."""

from __future__ import annotations

from typing import Annotated

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
    if json_out:
        print_json({"agent": agent, "by_service": rows, "total_cost_usd": total})
        return
    numbers = ("requests", "tokens in", "tokens out", "cost")
    table = make_table(("service", "model", *numbers),
                       ((r["service"], r["model"] or "-", f"{r['requests']:,}", f"{r['input_tokens']:,}",
                         f"{r['output_tokens']:,}", f"${r['cost_usd']:.4f}") for r in rows), right=numbers)
    console = out_console()
    console.print(table if rows else "No usage recorded yet.")
    console.print(f"total ${total:.4f}")
