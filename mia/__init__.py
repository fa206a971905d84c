"""mia: a terminal-first research assistant for medical innovation."""

from __future__ import annotations

__version__ = "0.1.0"
