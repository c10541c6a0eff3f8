"""Chart axes: round 1-2-5 ticks, labels with the decimals their step needs, room for them at both ends."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from feedback.analyst.service import _scorecard_chart, interval_chart
from feedback.charts import daily_bars, nice_step, nice_ticks, tick_label


def assert_round(labels: list[str]) -> None:
    """Ticks evenly spaced by 1, 2 or 5 × a power of ten, each a multiple of that step."""
    values = [float(x) for x in labels]
    assert len(values) >= 2, labels
    step = values[1] - values[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1, 2, 5)), labels
    for a, b in zip(values, values[1:], strict=False):
        assert math.isclose(b - a, step), labels
    for v in values:
        assert math.isclose(v / step, round(v / step), abs_tol=1e-9), labels


@pytest.mark.parametrize(("span", "step"), [(15.87, 5), (1, 0.2), (9, 2), (0.04, 0.01), (72, 20), (3, 1), (250, 50)])
def test_steps_are_1_2_5_times_a_power_of_ten(span, step):
    assert nice_step(span, 6) == step


@pytest.mark.parametrize(
    ("lo", "hi", "ticks"),
    [
        (10.7, 26.57, [15, 20, 25]),
        (8, 80, [20, 40, 60, 80]),
        (0.25, 2.5, [0.5, 1.0, 1.5, 2.0, 2.5]),
        (1, 10, [2, 4, 6, 8, 10]),
    ],
)
def test_ticks_are_round_values_inside_the_range(lo, hi, ticks):
    assert nice_ticks(lo, hi) == ticks


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [(0.30000000000000004, 0.1, "0.3"), (20.0, 5, "20"), (2.5, 0.5, "2.5"), (0.05, 0.05, "0.05")],
)
def test_tick_labels_have_the_decimals_of_their_step(value, step, text):
    assert tick_label(value, step) == text


def _rows(points):
    return [{"score_eb": s, "ci_low_eb": lo, "ci_high_eb": hi, "commune_name": "X"} for s, lo, hi in points]


@pytest.mark.parametrize(
    ("points", "low", "high", "reference", "target"),
    [
        ([(20.1, 10.7, 26.57), (18, 12, 24)], 8, 80, 19.5, 21.0),  # the aggregate: the odd ticks
        ([(5.4, 4.9, 5.9), (6.1, 5.5, 6.7)], 1, 10, 5.7, 5.88),  # a dimension
        ([(0.9, 0.6, 1.2), (1.1, 0.9, 1.4)], 0.25, 2.5, None, None),  # a sub-dimension (k = 4)
        ([(79.5, 78, 80)], 8, 80, None, None),  # at the top of the scale
    ],
)
def test_interval_chart_ticks_are_round_and_their_labels_fit(points, low, high, reference, target):
    chart = interval_chart(_rows(points), reference=reference, target=target, low=low, high=high)
    assert_round([t["label"] for t in chart["ticks"]])
    for tick in chart["ticks"]:
        half = len(tick["label"]) * 11 * 0.62 / 2
        assert chart["label_width"] - half >= 0 and tick["x"] + half <= chart["width"], tick
    xs = [p[k] for p in chart["points"] for k in ("x", "x1", "x2")]
    assert min(xs) >= chart["label_width"] and max(xs) <= chart["width"]  # every bar on the plot


def test_scorecard_chart_ticks_run_1_to_10_inside_the_chart():
    chart = _scorecard_chart([{"code": "1", "score_eb": 10.0, "ci_low_eb": 9.0, "ci_high_eb": 10.0}])
    assert [t["label"] for t in chart["ticks"]] == [str(i) for i in range(1, 11)]
    assert chart["ticks"][-1]["x"] + len("10") * 11 * 0.62 / 2 <= chart["width"]


@pytest.mark.parametrize(("peak", "top"), [(0, 1), (7, 8), (13, 15), (37, 40), (120, 150)])
def test_daily_bars_axis_ends_on_a_round_value_above_the_busiest_day(peak, top):
    days = [(date(2026, 1, 1) + timedelta(days=i), peak if i == 5 else 0) for i in range(30)]
    chart = daily_bars(days)
    labels = [t["label"] for t in chart["ticks"]]
    assert labels[0] == "0" and labels[-1] == str(top)
    assert_round(labels)
    assert all(0 <= t["y"] <= chart["height"] for t in chart["ticks"])
    assert min(b["y"] for b in chart["bars"]) >= chart["ticks"][-1]["y"]  # no bar above the axis
    assert max(b["x"] + b["width"] for b in chart["bars"]) <= chart["width"]
