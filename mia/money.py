"""Dollar amounts shown with enough digits to be true ($0.001 is not "$0.00")."""

from __future__ import annotations

import math


def usd(value: float) -> str:
    """`value` as dollars: two decimals when they are exact, else four (or two significant digits below $0.01).

    usd(0.5) == "$0.50", usd(0.001) == "$0.001", usd(0.04123) == "$0.0412", usd(0.0001234) == "$0.00012".
    """
    if value == 0:
        return "$0.00"
    for decimals in (2, 3, 4):
        if abs(round(value, decimals) - value) < 1e-9:
            return f"${value:.{decimals}f}"
    if abs(value) >= 0.01:
        return f"${value:.4f}"
    decimals = min(8, 1 - math.floor(math.log10(abs(value))))
    return f"${value:.{decimals}f}"
