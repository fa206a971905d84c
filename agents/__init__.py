"""LLM client, durable run engine, research pipeline, Interaction Agent."""
