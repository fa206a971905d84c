"""The Typer command-line app."""
