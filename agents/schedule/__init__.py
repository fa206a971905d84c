"""Triggers: schedule rules (cron, interval, one-shot, time zones) and finding and claiming due slots.

May import `mia.agents.llm` and `research`; never chat, outreach or cloud.
"""
