"""What acts: llm/ (the model client), research/ (runs and reports), chat/ (the Interaction Agent),
outreach/ (approved actions, mail), schedule/ (triggers), cloud/ (Workflows). Contracts in pyproject.toml."""
