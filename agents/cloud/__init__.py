"""Cloudflare Workflows: the generated Worker, deploying triggers to it, and recording the runs it made.

May import `mia.agents.llm`, `research` and `schedule`; never chat or outreach.
"""
