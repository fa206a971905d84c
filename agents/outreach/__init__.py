"""Actions with effects outside mia: the approval mechanism, expert e-mail drafts and sending, replies.

May import `mia.agents.llm` and `research` (a reply wakes its agent); never chat, schedule or cloud.
"""
