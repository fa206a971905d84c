"""Clients of remote services and the tools agents may call."""
