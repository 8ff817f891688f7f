"""api/charts.py: parse the SVG as XML and check that the drawing maps the data.

Positions are checked against the chart's own axes (the pixel position of two labelled ticks),
not against the renderer's internal frame, so a wrong scale, an inverted axis or a shifted
marker fails here.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from api.charts import Marker, Series, fmt_value, nice_step, time_chart, time_ticks, value_ticks

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = 1_790_000_000.0  # 2026-09-21T15:33:20Z


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def y_scale(root: ET.Element) -> tuple[float, float]:
    """(pixels per unit, pixel y of value 0) from two labelled value ticks."""
    ticks = [
        (float(t.get("data-value", "nan")), float(t.get("y", "nan")) - 4)
        for t in root.findall("s:g[@class='y-axis']/s:text", NS)
    ]
    assert len(ticks) >= 2
    (v_a, y_a), (v_b, y_b) = ticks[0], ticks[-1]
    k = (y_b - y_a) / (v_b - v_a)
    return k, y_a - k * v_a


def x_scale(root: ET.Element) -> tuple[float, float]:
    """(pixels per second, pixel x of epoch 0) from two labelled time ticks."""
    ticks = [
        (float(t.get("data-t", "nan")), float(t.get("x", "nan")))
        for t in root.findall("s:g[@class='x-axis']/s:text", NS)
    ]
    assert len(ticks) >= 2
    (t_a, x_a), (t_b, x_b) = ticks[0], ticks[-1]
    k = (x_b - x_a) / (t_b - t_a)
    return k, x_a - k * t_a


def path_points(d: str) -> list[tuple[float, float]]:
    """Vertices of an M/L/H/V path (absolute commands only, as the renderer writes)."""
    pts: list[tuple[float, float]] = []
    x = y = 0.0
    for cmd, args in re.findall(r"([MLHV])([^MLHV]*)", d):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if cmd in "ML":
            x, y = nums
        elif cmd == "H":
            x = nums[0]
        else:
            y = nums[0]
        pts.append((x, y))
    return pts


def test_line_points_sit_where_the_axes_say() -> None:
    data = [(T0 + 0, 0.0), (T0 + 60, 1250.0), (T0 + 120, 4000.0), (T0 + 170, 300.0)]
    root = parse(time_chart("Flood", [Series("p", data)], start=T0, end=T0 + 180, unit="pps"))
    ky, y0 = y_scale(root)
    kx, x0 = x_scale(root)
    assert ky < 0  # larger values higher up
    dots = root.findall(".//s:g[@class='serie']/s:circle", NS)
    assert len(dots) == len(data)
    for dot, (t, v) in zip(dots, data, strict=True):
        assert float(dot.get("cx", "nan")) == pytest.approx(x0 + kx * t, abs=0.02)
        assert float(dot.get("cy", "nan")) == pytest.approx(y0 + ky * v, abs=0.02)
    line = path_points(root.findall(".//s:g[@class='serie']/s:path", NS)[0].get("d", ""))
    assert line == [
        (pytest.approx(x0 + kx * t, abs=0.02), pytest.approx(y0 + ky * v, abs=0.02))
        for t, v in data
    ]
    # The whole range of the data is inside the value axis.
    labels = [t.text for t in root.findall("s:g[@class='y-axis']/s:text", NS)]
    assert labels[0] == "0 pps" and labels[-1] == "4k pps"


def test_step_series_holds_each_state_until_the_next_sample() -> None:
    data = [(T0 + 10, 1.0), (T0 + 100, 0.0), (T0 + 130, 1.0)]
    root = parse(
        time_chart(
            "Oper state",
            [Series("node-101/eth1/5", data, step=True)],
            start=T0,
            end=T0 + 200,
            states={0: "down", 1: "up"},
        )
    )
    assert [t.text for t in root.findall("s:g[@class='y-axis']/s:text", NS)] == ["down", "up"]
    ky, y0 = y_scale(root)
    kx, x0 = x_scale(root)
    pts = path_points(root.findall(".//s:path", NS)[0].get("d", ""))
    up, down = y0 + ky * 1, y0 + ky * 0
    expected = [
        (x0 + kx * (T0 + 10), up),
        (x0 + kx * (T0 + 100), up),  # horizontal: still up until the down sample
        (x0 + kx * (T0 + 100), down),
        (x0 + kx * (T0 + 130), down),
        (x0 + kx * (T0 + 130), up),
        (x0 + kx * (T0 + 200), up),  # last state carried to the right edge
        (x0 + kx * (T0 + 200), up),
    ]
    assert pts == [(pytest.approx(x, abs=0.02), pytest.approx(y, abs=0.02)) for x, y in expected]
    tips = [t.text or "" for t in root.findall(".//s:circle/s:title", NS)]
    assert [tip.rsplit(" · ", 1)[1] for tip in tips] == ["up", "down", "up"]


def test_markers_span_and_legend() -> None:
    root = parse(
        time_chart(
            "Flood",
            [Series("a", [(T0, 1.0), (T0 + 60, 2.0)]), Series("b", [(T0, 3.0)])],
            start=T0,
            end=T0 + 600,
            markers=[Marker(T0 + 300, "first move"), Marker(T0 + 320, "F2533", "fault", "loop")],
            span=(T0 + 300, T0 + 360),
        )
    )
    kx, x0 = x_scale(root)
    marks = root.findall(".//s:g[@class='markers']/s:g", NS)
    assert [m.get("class") for m in marks] == ["marker event", "marker fault"]
    for m, t in zip(marks, (T0 + 300, T0 + 320), strict=True):
        line = m.find("s:line", NS)
        assert line is not None
        assert float(line.get("x1", "nan")) == pytest.approx(x0 + kx * t, abs=0.02)
    fault = marks[1]
    assert fault.findtext("s:text", namespaces=NS) == "F2533"
    assert "loop" in (fault.findtext("s:title", namespaces=NS) or "")
    span = root.find(".//s:rect[@class='span']", NS)
    assert span is not None
    assert float(span.get("x", "nan")) == pytest.approx(x0 + kx * (T0 + 300), abs=0.02)
    assert float(span.get("width", "nan")) == pytest.approx(kx * 60, abs=0.02)
    legend = [t.text for t in root.findall(".//s:g[@class='legend-item']/s:text", NS)]
    assert legend == ["a", "b"]
    # Two series in two different colours, each with its legend swatch.
    strokes = [p.get("stroke") for p in root.findall(".//s:g[@class='serie']/s:path", NS)]
    swatches = [r.get("fill") for r in root.findall(".//s:g[@class='legend-item']/s:rect", NS)]
    assert strokes == swatches and len(set(strokes)) == 2


def test_labels_from_the_fabric_are_escaped() -> None:
    evil = '<script>alert(1)</script> & "quoted"'
    svg = time_chart(
        evil,
        [Series(evil, [(T0, 1.0)])],
        start=T0,
        end=T0 + 60,
        markers=[Marker(T0 + 30, evil, "fault", evil)],
    )
    assert "<script" not in svg
    root = parse(svg)  # well-formed XML
    assert root.findtext("s:title", namespaces=NS) == evil
    assert not root.findall(".//s:script", NS)
    assert root.find(".//s:g[@class='serie']", NS).get("data-label") == evil  # type: ignore[union-attr]


def test_points_outside_the_window_are_not_drawn_and_empty_says_so() -> None:
    root = parse(
        time_chart("x", [Series("a", [(T0 - 100, 5.0), (T0 + 1000, 7.0)])], start=T0, end=T0 + 60)
    )
    assert not root.findall(".//s:circle", NS)
    assert (
        root.findtext(".//s:text[@class='nodata']", namespaces=NS) == "no data in this time range"
    )
    empty = parse(time_chart("x", [], start=T0, end=T0 + 60))
    assert empty.find(".//s:text[@class='nodata']", NS) is not None


def test_ticks_are_nice_and_cover_the_range() -> None:
    assert nice_step(4400) == 1000
    assert nice_step(0.9) == 0.2
    assert value_ticks(0, 4400) == [0, 1000, 2000, 3000, 4000]
    ticks = time_ticks(T0 + 7, T0 + 3600)
    assert all(t % 600 == 0 for t in ticks) and ticks[0] >= T0 + 7 and ticks[-1] <= T0 + 3600
    assert len(ticks) == 6
    assert fmt_value(1500, "pps") == "1.5k pps"
    assert fmt_value(12.5, "%") == "12.5%"
    assert fmt_value(2.5e9, "bit/s") == "2.5G bit/s"


def test_state_series_with_the_same_state_stay_apart() -> None:
    both_up = [(T0 + 10, 1.0), (T0 + 50, 1.0)]
    root = parse(
        time_chart(
            "Oper state",
            [Series("a", both_up, step=True), Series("b", both_up, step=True)],
            start=T0,
            end=T0 + 60,
            states={0: "down", 1: "up"},
        )
    )
    ky, y0 = y_scale(root)
    ys = [
        {float(c.get("cy", "nan")) for c in g.findall("s:circle", NS)}
        for g in root.findall(".//s:g[@class='serie']", NS)
    ]
    assert all(len(y) == 1 for y in ys)
    ya, yb = ys[0].pop(), ys[1].pop()
    assert ya != yb  # two lines, not one on top of the other
    assert abs(ya - (y0 + ky)) <= 3 and abs(yb - (y0 + ky)) <= 3  # both still read "up"
