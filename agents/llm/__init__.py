"""The LLM layer: one client for Workers AI and OpenAI-compatible servers, their result and stream shapes.

Owns requests, streaming, tool-call and JSON parsing, usage and prices; imports nothing else of `mia.agents`.
"""
