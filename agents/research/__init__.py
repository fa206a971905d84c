"""Research runs: the durable run engine, the plan/search/extract/synthesize pipeline, reports, budgets, follow-ups.

May import `mia.agents.llm`; never chat, outreach, schedule or cloud.
"""
