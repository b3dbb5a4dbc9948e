"""How the report writes a figure: a number, a min / median / max spread, a target's verdict."""

from __future__ import annotations

import math
from typing import Any


def num(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def spread(figure: dict[str, Any], digits: int = 1) -> str:
    if len(figure.get("runs", ())) == 1:
        return num(figure["median"], digits)
    return " / ".join(num(figure[k], digits) for k in ("min", "median", "max"))


def target(name: str, measured: Any, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "status": "met" if met else "NOT MET"}
