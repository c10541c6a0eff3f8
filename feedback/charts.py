"""Chart axes for the inline SVG charts: round ("nice") ticks in 1-2-5 steps and room for their labels."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

__all__ = ["nice_step", "nice_ticks", "nice_bounds", "tick_label", "label_room", "daily_bars"]

#: Width of one character of an axis label, as a share of the font size (digits of a sans-serif
#: font are about 0.55 em wide; a little more so that a label is never cut).
CHAR_EM = 0.62


def nice_step(span: float, most: int = 6) -> float:
    """The smallest step of the form 1, 2 or 5 × 10^e that covers ``span`` in at most ``most`` - 1 steps."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(most - 1, 1)
    exponent = math.floor(math.log10(raw))
    for mantissa in (1, 2, 5, 10):
        step = mantissa * 10.0**exponent
        if step >= raw * (1 - 1e-9):
            return _clean(step)
    return _clean(10.0 ** (exponent + 1))


def _clean(value: float) -> float:
    """``value`` without binary noise (0.30000000000000004 → 0.3)."""
    return float(f"{value:.12g}")


def nice_bounds(lo: float, hi: float, step: float) -> tuple[float, float]:
    """``lo`` and ``hi`` moved out to the nearest multiples of ``step``."""
    return _clean(math.floor(lo / step + 1e-9) * step), _clean(math.ceil(hi / step - 1e-9) * step)


def nice_ticks(lo: float, hi: float, *, step: float | None = None, most: int = 6) -> list[float]:
    """The multiples of a 1-2-5 step that lie in [lo, hi] (both ends included), at most ``most`` or so."""
    if hi < lo:
        lo, hi = hi, lo
    step = step or nice_step(hi - lo, most)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [_clean(i * step) for i in range(first, last + 1)]


def tick_label(value: float, step: float) -> str:
    """A tick's text with exactly the decimals its step needs (0.5 → ``0.5``, 20 → ``20``)."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    return f"{value:.{decimals}f}"


def label_room(labels: Sequence[str], font_size: float) -> float:
    """Half the width of the widest label (a centred label reaches this far past its tick), plus 2."""
    widest = max((len(text) for text in labels), default=0)
    return widest * font_size * CHAR_EM / 2 + 2


def daily_bars(
    daily: Sequence[tuple[date, int]], *, width: int = 300, height: int = 80, font_size: float = 9
) -> dict[str, Any]:
    """Geometry of the officers' bar chart of daily responses: a bar per day on a 0–nice-max axis.

    The y axis ends at the first round value at or above the busiest day, with a tick label
    at every round step, so a bar's height can be read off the axis.
    """
    peak = max((n for _, n in daily), default=0)
    step = nice_step(max(peak, 1), 5)
    step = max(step, 1.0)  # whole responses
    top = nice_bounds(0, max(peak, 1), step)[1]
    ticks = nice_ticks(0, top, step=step)
    labels = [tick_label(t, step) for t in ticks]
    left = max(len(text) for text in labels) * font_size * CHAR_EM + 4
    # A label is centred on its tick (baseline a third of the font lower): room for a whole line above and below.
    top_pad, bottom = font_size * 0.75 + 1, height - font_size * 0.5 - 2
    plot_h = bottom - top_pad
    bar_w = (width - left - 2) / max(len(daily), 1)

    def y(v: float) -> float:
        return round(bottom - v / top * plot_h, 1)

    return {
        "width": width,
        "height": height,
        "left": round(left, 1),
        "bottom": bottom,
        "peak": peak,
        "ticks": [{"y": y(t), "label": text} for t, text in zip(ticks, labels, strict=False)],
        "font_size": font_size,
        "bars": [
            {
                "x": round(left + 1 + i * bar_w + bar_w * 0.1, 1),
                "width": round(bar_w * 0.8, 1),
                "y": y(n),
                "height": round(bottom - y(n), 1),
                "day": day,
                "n": n,
            }
            for i, (day, n) in enumerate(daily)
        ],
    }
