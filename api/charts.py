"""Server-rendered SVG time-series charts (stage: api/UI): no JavaScript, no CDN, no build step.

`time_chart(...)` draws one chart: line or step series over a time axis with "nice" time and
value ticks, a shaded event span, vertical markers (the event, faults), a legend, and native
SVG `<title>` tooltips on points. The SVG is built with `xml.etree.ElementTree`, so every label
(port names, fault descriptions — data that comes from the fabric) is escaped by the serializer,
never by hand. The result is a `str` meant to be inlined in a page (`{{ chart | safe }}`).

Geometry is a pure mapping (`Frame.x` / `Frame.y`) so tests can parse the SVG and check that each
point sits where its data says. Times are epoch seconds (float), UTC.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

SVG_NS = "http://www.w3.org/2000/svg"

# Colour-blind-safe palette (Okabe–Ito), in the order series get them.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000", "#f0e442")
EVENT_COLOR = "#b35c00"
FAULT_COLOR = "#b3261e"
MAX_POINT_DOTS = 150  # above this many points a series is drawn as a line only (no dots)

# Candidate tick steps for the time axis, seconds.
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
               43200, 86400, 172800, 604800)  # fmt: skip


@dataclass(frozen=True)
class Series:
    """One line: `points` are (epoch seconds, value); `step` draws a step (state) line."""

    label: str
    points: Sequence[tuple[float, float]]
    step: bool = False
    color: str | None = None


@dataclass(frozen=True)
class Marker:
    """A vertical line at `t` (epoch seconds) with a short label, e.g. the event or a fault."""

    t: float
    label: str
    kind: str = "event"  # event | fault: picks the colour and the CSS class
    detail: str = ""  # tooltip text


@dataclass(frozen=True)
class Frame:
    """The data → pixel mapping of one chart's plot area."""

    t0: float
    t1: float
    v0: float
    v1: float
    left: float
    top: float
    width: float
    height: float

    def x(self, t: float) -> float:
        return self.left + (t - self.t0) / (self.t1 - self.t0) * self.width

    def y(self, v: float) -> float:
        return self.top + self.height - (v - self.v0) / (self.v1 - self.v0) * self.height


@dataclass
class ChartStyle:
    width: int = 720
    height: int = 220
    margin_left: int = 58
    margin_right: int = 28
    margin_top: int = 30
    margin_bottom: int = 28
    legend_row: int = 18
    extra: dict[str, str] = field(default_factory=dict)


# -- ticks -----------------------------------------------------------------------------------


def nice_step(span: float, target: int = 5) -> float:
    """A 1/2/5 × 10^k step giving about `target` ticks over `span`."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)  # pragma: no cover - the loop always returns


def value_ticks(v0: float, v1: float, target: int = 5) -> list[float]:
    step = nice_step(v1 - v0, target)
    first = math.ceil(v0 / step - 1e-9) * step
    out = []
    v = first
    while v <= v1 + step * 1e-9:
        out.append(round(v, 12))
        v += step
    return out


def time_step(span_s: float, target: int = 6) -> int:
    for s in _TIME_STEPS:
        if span_s / s <= target:
            return s
    return _TIME_STEPS[-1]


def time_ticks(t0: float, t1: float, target: int = 6) -> list[float]:
    step = time_step(t1 - t0, target)
    first = math.ceil(t0 / step) * step
    return [float(t) for t in range(int(first), int(t1) + 1, step)]


def time_label(t: float, step: float) -> str:
    dt = datetime.fromtimestamp(t, UTC)
    if step >= 86400:
        return dt.strftime("%m-%d")
    if step >= 60:
        return dt.strftime("%H:%M")
    return dt.strftime("%H:%M:%S")


def fmt_value(v: float, unit: str = "") -> str:
    """Short SI value: 1500 → `1.5k`; with a unit: `1.5k pps`. Percent and states stay plain."""
    a = abs(v)
    for div, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            text = f"{v / div:.3g}{suffix}"
            break
    else:
        text = f"{v:.3g}" if a >= 0.01 or v == 0 else f"{v:.2g}"
    return f"{text} {unit}".rstrip() if unit and unit != "%" else f"{text}{unit}"


# -- drawing ---------------------------------------------------------------------------------


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: object) -> ET.Element:
    """A child element; `font_size=11` → `font-size="11"`, `class_` → `class`; None is left out."""
    names = {k: k.rstrip("_").replace("_", "-") for k in attrs}
    e = ET.SubElement(parent, tag, {names[k]: _num(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        e.text = text
    return e


def _num(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def _path(frame: Frame, pts: Sequence[tuple[float, float]], step: bool, dy: float = 0.0) -> str:
    parts: list[str] = []
    prev_y: float | None = None
    for i, (t, v) in enumerate(pts):
        x, y = frame.x(t), frame.y(v) + dy
        if i == 0:
            parts.append(f"M{_num(x)},{_num(y)}")
        elif step and prev_y is not None:
            parts.append(f"H{_num(x)}V{_num(y)}")
        else:
            parts.append(f"L{_num(x)},{_num(y)}")
        prev_y = y
    return "".join(parts)


def time_chart(
    title: str,
    series: Sequence[Series],
    *,
    start: float,
    end: float,
    markers: Sequence[Marker] = (),
    span: tuple[float, float] | None = None,
    unit: str = "",
    y_min: float | None = None,
    y_max: float | None = None,
    states: dict[float, str] | None = None,
    chart_id: str = "",
    style: ChartStyle | None = None,
) -> str:
    """An SVG time chart of `series` over [start, end] (epoch seconds).

    `span`: (t0, t1) shaded (the incident). `states`: value → label for state charts (e.g.
    {0: "down", 1: "up"}), which then use exactly those ticks. `y_min`/`y_max` fix the value
    range (default: 0 … max of the data, padded). With no data at all the chart says so.
    """
    st = style or ChartStyle()
    if end <= start:
        end = start + 1.0
    pts_all = [
        (t, v) for s in series for t, v in s.points if math.isfinite(v) and start <= t <= end
    ]
    vals = [v for _, v in pts_all]
    if states:
        lo, hi = min(states), max(states)
        pad = (hi - lo) * 0.15 or 0.5
        v0, v1 = lo - pad, hi + pad
        ticks = sorted(states)
    else:
        v0 = y_min if y_min is not None else min([0.0, *vals])
        top = max(vals, default=1.0)
        v1 = y_max if y_max is not None else (top * 1.1 if top > 0 else 1.0)
        if v1 <= v0:
            v1 = v0 + 1.0
        ticks = value_ticks(v0, v1)
        v1 = max(v1, ticks[-1]) if ticks else v1
    legend_rows = math.ceil(len(series) / 3) if series else 0
    height = st.height + legend_rows * st.legend_row
    frame = Frame(
        start,
        end,
        v0,
        v1,
        st.margin_left,
        st.margin_top,
        st.width - st.margin_left - st.margin_right,
        st.height - st.margin_top - st.margin_bottom,
    )
    svg = ET.Element(
        "svg",
        {
            "xmlns": SVG_NS,
            "viewBox": f"0 0 {st.width} {height}",
            "width": str(st.width),
            "height": str(height),
            "class": "chart",
            "role": "img",
            "font-family": "system-ui, sans-serif",
            "font-size": "11",
            "data-t0": _num(float(start)),
            "data-t1": _num(float(end)),
            "data-v0": repr(float(v0)),
            "data-v1": repr(float(v1)),
            "data-left": _num(frame.left),
            "data-top": _num(frame.top),
            "data-width": _num(frame.width),
            "data-height": _num(frame.height),
            **({"id": chart_id} if chart_id else {}),
            **st.extra,
        },
    )
    _el(svg, "title", title)
    _el(svg, "text", title, x=frame.left, y=18, font_size=13, font_weight=600, fill="#1d2330")
    bottom = frame.top + frame.height
    right = frame.left + frame.width
    _el(svg, "rect", x=frame.left, y=frame.top, width=frame.width, height=frame.height,
        fill="#ffffff", stroke="#e3e6ec")  # fmt: skip
    clip_id = "clip-" + (chart_id or f"{zlib.crc32(title.encode()):x}")
    defs = _el(svg, "defs")
    clip = _el(defs, "clipPath", id=clip_id)
    _el(clip, "rect", x=frame.left, y=frame.top, width=frame.width, height=frame.height)

    if span is not None:
        a, b = max(span[0], start), min(span[1], end)
        if b >= a:
            w = max(frame.x(b) - frame.x(a), 2.0)
            _el(svg, "rect", class_="span", x=frame.x(a), y=frame.top, width=w,
                height=frame.height, fill=EVENT_COLOR, fill_opacity=0.08)  # fmt: skip

    # Value axis: grid lines and labels.
    grid = _el(svg, "g", class_="y-axis")
    for v in ticks:
        y = frame.y(v)
        _el(grid, "line", x1=frame.left, x2=right, y1=y, y2=y, stroke="#eef0f4")
        label = states[v] if states else fmt_value(v, unit)
        _el(grid, "text", label, x=frame.left - 6, y=y + 4, text_anchor="end", fill="#6b7385",
            data_value=repr(float(v)))  # fmt: skip

    # Time axis.
    tstep = time_step(end - start)
    xaxis = _el(svg, "g", class_="x-axis")
    for t in time_ticks(start, end):
        x = frame.x(t)
        _el(xaxis, "line", x1=x, x2=x, y1=bottom, y2=bottom + 4, stroke="#9aa1ad")
        _el(xaxis, "text", time_label(t, tstep), x=x, y=bottom + 16, text_anchor="middle",
            fill="#6b7385", data_t=_num(float(t)))  # fmt: skip
    _el(svg, "text", "times UTC", x=right, y=18, text_anchor="end", fill="#9aa1ad")

    # Series.
    plot = _el(svg, "g", class_="series", clip_path=f"url(#{clip_id})")
    # State charts: ports that share a state would hide each other on one line, so each series
    # gets its own lane a few pixels apart (the tooltips still give the exact state).
    lane = 3.0 if states and len(series) > 1 else 0.0
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        dy = (i - (len(series) - 1) / 2) * lane
        pts = sorted((t, v) for t, v in s.points if math.isfinite(v) and start <= t <= end)
        g = _el(plot, "g", class_="serie", data_label=s.label)
        if not pts:
            continue
        if s.step:
            # A state holds until the next sample: carry the last one to the right edge.
            pts = [*pts, (end, pts[-1][1])]
        _el(g, "path", d=_path(frame, pts, s.step, dy), fill="none", stroke=color,
            stroke_width=2 if s.step else 1.6, stroke_linejoin="round")  # fmt: skip
        real = pts[:-1] if s.step else pts
        if len(real) <= MAX_POINT_DOTS:
            for t, v in real:
                dot = _el(g, "circle", class_="pt", cx=frame.x(t), cy=frame.y(v) + dy, r=2.4,
                          fill=color, data_t=repr(float(t)), data_v=repr(float(v)))  # fmt: skip
                shown = states.get(v, fmt_value(v, unit)) if states else fmt_value(v, unit)
                _el(dot, "title", f"{s.label} · {time_label(t, 1)} UTC · {shown}")

    # Markers on top of the data.
    marks = _el(svg, "g", class_="markers")
    for m in markers:
        if not start <= m.t <= end:
            continue
        x = frame.x(m.t)
        color = FAULT_COLOR if m.kind == "fault" else EVENT_COLOR
        g = _el(marks, "g", class_=f"marker {m.kind}", data_t=repr(float(m.t)))
        _el(
            g,
            "title",
            f"{m.label} · {time_label(m.t, 1)} UTC" + (f" · {m.detail}" if m.detail else ""),
        )
        _el(g, "line", x1=x, x2=x, y1=frame.top, y2=bottom, stroke=color, stroke_width=1.5,
            stroke_dasharray="4 3" if m.kind == "fault" else None)  # fmt: skip
        anchor = "end" if x > frame.left + frame.width * 0.8 else "start"
        dx = -3 if anchor == "end" else 3
        # Event labels along the top, fault labels along the bottom, with a white halo so they
        # stay readable over the lines.
        y = bottom - 5 if m.kind == "fault" else frame.top + 11
        _el(g, "text", m.label, x=x + dx, y=y, text_anchor=anchor, fill=color, font_size=10,
            stroke="#ffffff", stroke_width=3, paint_order="stroke")  # fmt: skip

    if not pts_all:
        _el(svg, "text", "no data in this time range", class_="nodata",
            x=frame.left + frame.width / 2, y=frame.top + frame.height / 2,
            text_anchor="middle", fill="#6b7385")  # fmt: skip

    # Legend: three entries per row under the time axis.
    legend = _el(svg, "g", class_="legend")
    col_w = (st.width - st.margin_left) / 3
    for i, s in enumerate(series):
        color = s.color or PALETTE[i % len(PALETTE)]
        lx = frame.left + (i % 3) * col_w
        ly = st.height + (i // 3) * st.legend_row + 4
        item = _el(legend, "g", class_="legend-item")
        _el(item, "rect", x=lx, y=ly - 8, width=14, height=4 if not s.step else 3, fill=color)
        _el(item, "text", _shorten(s.label, 38), x=lx + 19, y=ly, fill="#1d2330")
    return ET.tostring(svg, encoding="unicode")


def _shorten(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
