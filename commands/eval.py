"""`mia eval`: measure the research agent's answers on labelled questions, list past evals, delete eval agents."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from mia.commands.common import err_console, make_table, open_state, out_console, print_json

app = typer.Typer(help="Measure the quality of research answers (PubMedQA); list and clean up evals.",
                  no_args_is_help=True)

ROWS = (("accuracy", "verdict accuracy (bottom line vs label)", "pct"), ("answered", "gave a verdict", "pct"),
        ("gold_retrieved", "gold PMID retrieved", "pct"), ("gold_cited", "gold PMID cited", "pct"),
        ("quotes_verified", "quotes verified (share of claims)", "pct"), ("claims", "claims extracted", "int"),
        ("identifiers_removed", "identifiers removed", "int"), ("errors", "questions that failed", "int"),
        ("cost_per_question", "cost per question", "usd"), ("cost_usd", "cost in total", "usd"),
        ("seconds_per_question", "wall time per question", "sec"))


def _fmt(value: Any, kind: str) -> str:
    if value is None:
        return "-"
    return {"pct": f"{value * 100:.1f}%", "int": f"{value:,}", "usd": f"${value:.4f}", "sec": f"{value:.1f} s"}[kind]


@app.command("pubmedqa")
def pubmedqa(
    n: Annotated[int, typer.Option("--n", help="How many questions (the first N of the split).")] = 50,
    split: Annotated[str, typer.Option("--split", help="test (for figures) or dev (for developing prompts).")] = "test",
    offline: Annotated[bool, typer.Option("--offline", help="Search a local index of the shipped abstracts "
                                                            "instead of PubMed and Europe PMC.")] = False,
    model: Annotated[str | None, typer.Option("--model", help="LLM model id (default: llm.model).")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="Spending cap of the whole eval in US dollars "
                                                                  "(default: $0.05 a question).")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the eval record as JSON.")] = False,
) -> None:
    """Run research agents (depth quick) on PubMedQA questions and score their answers against the labels."""
    import httpx

    from mia.agents.eval.runner import run_pubmedqa, validate_options

    options = validate_options(split=split, n=n, offline=offline, model=model, budget=budget)
    settings, registry = open_state()
    console = err_console()

    def progress(kind: str, data: dict[str, Any]) -> None:
        if json_out or kind != "item":
            return
        s = data["score"]
        mark = "right" if s["correct"] else "wrong"
        gold = "gold cited" if s["gold_cited"] else ("gold retrieved" if s["gold_retrieved"] else "gold missed")
        console.print(f"[{data['index']}/{data['total']}] PMID {s['pmid']}: {s['label']} → {s['verdict'] or 'none'} "
                      f"({mark}) · {gold} · ${s['cost_usd']:.4f} · {s['seconds']:.1f} s"
                      + (f" · error: {s['error']}" if s["error"] else ""))

    timeout = httpx.Timeout(settings.llm.timeout, connect=10.0)
    with httpx.Client(timeout=timeout, follow_redirects=True) as http:
        record = run_pubmedqa(settings, registry, options, http=http, on_event=progress)
    if json_out:
        print_json(record)
        return
    _show(record)


def _show(record: dict[str, Any]) -> None:
    figures = record["figures"]
    out = out_console()
    where = "offline index" if record["offline"] else "PubMed + Europe PMC"
    out.print(f"PubMedQA {record['split']} split · {figures['questions']} questions · {where}\n"
              f"{record['model']} · mia {record['mia_version']}")
    out.print(make_table(("figure", "value"), ((label, _fmt(figures[key], kind)) for key, label, kind in ROWS),
                         right=("value",)))
    for notice in record["notices"]:
        err_console().print(notice)
    err_console().print(f"Saved: {record['path']}\nDelete its agents with: mia eval delete {record['id']}")


@app.command("list")
def list_(json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List saved evals with their headline figures."""
    from mia.agents.eval.runner import list_evals

    settings, _ = open_state(notice=False)
    records = list_evals(settings)
    if json_out:
        print_json(records)
        return
    if not records:
        err_console().print("No evals yet. Run one with: mia eval pubmedqa --offline --n 10")
        return
    table = make_table(("id", "questions", "accuracy", "gold cited", "$/question", "model"),
                       ((r["id"], f"{r['figures']['questions']} {r['split']}" + (" offline" if r["offline"] else ""),
                         _fmt(r["figures"]["accuracy"], "pct"), _fmt(r["figures"]["gold_cited"], "pct"),
                         _fmt(r["figures"]["cost_per_question"], "usd"), r["model"].rsplit("/", 1)[-1])
                        for r in records), right=("accuracy", "gold cited", "$/question"))
    table.columns[0].no_wrap = True  # an id must stay whole: `mia eval delete ID` takes it
    out_console().print(table)


@app.command("delete")
def delete(
    eval_id: Annotated[str | None, typer.Argument(help="One eval's id (default: every eval's agents).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the research agents that evals made (their folders too); the saved figures are kept."""
    from mia.agents.eval.runner import delete_eval_agents

    settings, registry = open_state(notice=False)
    what = f"the agents of eval {eval_id}" if eval_id else "every eval's agents"
    if not yes and not typer.confirm(f"Delete {what}?", default=False, err=True):
        raise typer.Exit(1)
    count = delete_eval_agents(settings, registry, eval_id)
    err_console().print(f"Deleted {count} eval agent(s).")
