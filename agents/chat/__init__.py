"""The Interaction Agent: the chat tool loop, its typed tools and the research it runs in the background.

May import `mia.agents.llm`, `research` and `outreach`; nothing imports it but the front ends.
"""
