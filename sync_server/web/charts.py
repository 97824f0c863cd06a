"""Small server-rendered SVG charts for the results pages: no script, no CDN, readable when printed.

Each helper returns :class:`markupsafe.Markup` holding one ``<svg>`` sized by its ``viewBox`` so it
scales to its card; labels are escaped here.
"""

from __future__ import annotations

from markupsafe import Markup, escape

INK, MUTED, LINE = "#1b2733", "#5b6b7a", "#d5dde5"
GOOD, MID, BAD, BRAND = "#1e7b3a", "#c98a00", "#b3261e", "#0b5d7a"
FONT = 'font-family="Noto Sans, DejaVu Sans, Arial, sans-serif"'


def colour(value: float | None) -> str:
    """Green from 80, amber from 60, red below (index 0–100)."""
    if value is None:
        return LINE
    return GOOD if value >= 80 else MID if value >= 60 else BAD


def _svg(width: int, height: int, body: list[str], label: str, links: bool = False) -> Markup:
    # An image may not hold focusable links (axe nested-interactive): a chart with links is a labelled
    # group instead, whose links carry their own names.
    role = f'role="group" aria-label="{escape(label)}"><title>{escape(label)}</title' if links else f'role="img" aria-label="{escape(label)}"'
    return Markup(f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" xmlns="http://www.w3.org/2000/svg" '
                  f'{FONT} font-size="12" {role}>' + "".join(body) + "</svg>")


def _trim(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def bars(rows: list[dict], *, label: str, width: int = 560, scale_max: float = 100.0, label_width: int = 190,
         fmt: str = "{:.1f}") -> Markup:
    """Horizontal bars: ``label``, ``value`` (None → "—"), optional ``low``/``high`` whiskers, ``note`` and ``href``.

    One meaning per mark: a whisker is the interval of the bar's own value, in the bar's scale (the share
    satisfied × 100 with its Wilson interval × 100), so it must hold the value; a whisker of another
    measure (the index's bar with the share's interval, issue 15) is refused.
    """
    for row in rows:
        low, high, value = row.get("low"), row.get("high"), row.get("value")
        if low is not None and high is not None and value is not None and not low - 1e-6 <= value <= high + 1e-6:
            raise ValueError(f"the whisker {low}–{high} of {row['label']!r} does not hold its bar's value {value}")
    row_h, top = 24, 6
    plot = width - label_width - 105
    height = top * 2 + row_h * max(len(rows), 1)
    body = []
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_width + plot * tick
        body.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - top}" stroke="{LINE}" stroke-width="1"/>')
    for i, row in enumerate(rows):
        y = top + i * row_h
        full = escape(str(row["label"]))
        text = escape(_trim(str(row["label"]), max(12, label_width // 7)))
        name = f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" fill="{INK}"><title>{full}</title>{text}</text>'
        value = row.get("value")
        if row.get("href"):
            spoken = full if value is None else Markup(f"{full}: {escape(fmt.format(value).replace('.', ','))}")
            name = f'<a href="{escape(row["href"])}" aria-label="{spoken}">{name}</a>'
        body.append(name)
        if value is None:
            body.append(f'<text x="{label_width + 4}" y="{y + 16}" fill="{MUTED}">—</text>')
            continue
        w = max(plot * min(value, scale_max) / scale_max, 1.5)
        fill = row.get("colour") or (colour(value) if scale_max == 100 else BRAND)
        body.append(f'<rect x="{label_width}" y="{y + 5}" width="{w:.1f}" height="{row_h - 10}" rx="2" fill="{fill}" opacity="0.85">'
                    f'<title>{text}: {fmt.format(value).replace(".", ",")}</title></rect>')
        if row.get("low") is not None and row.get("high") is not None:
            x1 = label_width + plot * row["low"] / scale_max
            x2 = label_width + plot * row["high"] / scale_max
            mid = y + row_h / 2
            body.append(f'<path d="M{x1:.1f} {mid - 5}v10M{x1:.1f} {mid}H{x2:.1f}M{x2:.1f} {mid - 5}v10" stroke="{INK}" stroke-width="1.3" fill="none"/>')
        note = fmt.format(value).replace(".", ",") + (f" · {row['note']}" if row.get("note") else "")
        body.append(f'<text x="{label_width + plot + 6}" y="{y + 16}" fill="{MUTED}">{escape(note)}</text>')
    return _svg(width, height, body, label, links=any(row.get("href") for row in rows))


def share_bar(share: float | None, low: float, high: float, *, width: int = 120, height: int = 14) -> Markup:
    """A small bar of the share satisfied (0–1) with its own Wilson interval as the whisker, for a table
    cell beside the figures it draws: decorative (``aria-hidden``), the cell's text says the same."""
    body = [f'<rect x="0" y="{height / 2 - 0.5:.1f}" width="{width}" height="1" fill="{LINE}"/>']
    if share is not None:
        mid = height / 2
        body.append(f'<rect x="0" y="2" width="{max(width * share, 1.5):.1f}" height="{height - 4}" rx="2" '
                    f'fill="{colour(share * 100)}" opacity="0.85"/>')
        x1, x2 = width * low, width * high
        body.append(f'<path d="M{x1:.1f} {mid - 4}v8M{x1:.1f} {mid}H{x2:.1f}M{x2:.1f} {mid - 4}v8" stroke="{INK}" '
                    f'stroke-width="1.2" fill="none"/>')
    return Markup(f'<svg class="share-bar" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                  f'xmlns="http://www.w3.org/2000/svg" aria-hidden="true" focusable="false">' + "".join(body) + "</svg>")


def histogram(values: list[float], *, label: str, width: int = 560, height: int = 170, bins: int = 10,
              axis_label: str = "") -> Markup:
    """How many units fall in each tenth of the 0–100 index."""
    counts = [0] * bins
    for v in values:
        counts[min(int(v * bins / 100), bins - 1)] += 1
    top, bottom, left = 20, 34, 30
    plot_h, plot_w = height - top - bottom, width - left - 10
    peak = max(counts) or 1
    bw = plot_w / bins
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - 10}" y2="{height - bottom}" stroke="{MUTED}"/>']
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x = left + i * bw
        mid = (i + 0.5) * 100 / bins
        body.append(f'<rect x="{x + 2:.1f}" y="{height - bottom - h:.1f}" width="{bw - 4:.1f}" height="{h:.1f}" fill="{colour(mid)}" opacity="0.85">'
                    f'<title>{i * 100 // bins}–{(i + 1) * 100 // bins}: {c}</title></rect>')
        if c:
            body.append(f'<text x="{x + bw / 2:.1f}" y="{height - bottom - h - 3:.1f}" text-anchor="middle" fill="{INK}">{c}</text>')
        body.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}" font-size="11">{i * 100 // bins}</text>')
    body.append(f'<text x="{width - 10}" y="{height - bottom + 14}" text-anchor="end" fill="{MUTED}" font-size="11">100</text>')
    if axis_label:
        body.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="{MUTED}" font-size="11">{escape(axis_label)}</text>')
    return _svg(width, height, body, label)


def timeline(points: list[dict], *, label: str, width: int = 560, height: int = 190, fmt_date=str,
             count_label: str = "", share_label: str = "") -> Markup:
    """Answers per period (bars) and the share satisfied (line, right axis 0–100 %)."""
    top, bottom, left, right = 14, 40, 40, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="{MUTED}"/>']
    if not points:
        body.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}">—</text>')
        return _svg(width, height, body, label)
    peak = max(p["n"] for p in points) or 1
    bw = plot_w / len(points)
    line = []
    label_every = max(1, len(points) // 8)
    for i, p in enumerate(points):
        x = left + i * bw
        h = plot_h * p["n"] / peak
        body.append(f'<rect x="{x + bw * 0.15:.1f}" y="{height - bottom - h:.1f}" width="{bw * 0.7:.1f}" height="{h:.1f}" fill="#9cc3d3">'
                    f'<title>{escape(fmt_date(p["start"]))}: {p["n"]}</title></rect>')
        if p.get("share") is not None:
            line.append((x + bw / 2, top + plot_h * (1 - p["share"])))
        if i % label_every == 0:
            body.append(f'<text x="{x + bw / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="{MUTED}" font-size="10">'
                        f'{escape(fmt_date(p["start"]))}</text>')
    if line:
        path = "M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in line)
        body.append(f'<path d="{path}" stroke="{GOOD}" stroke-width="2" fill="none"/>')
        body.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{GOOD}"/>' for x, y in line)
    body.append(f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" fill="{MUTED}" font-size="10">{peak}</text>')
    body.append(f'<text x="{width - right + 4}" y="{top + 8}" fill="{GOOD}" font-size="10">100%</text>')
    body.append(f'<text x="{width - right + 4}" y="{height - bottom}" fill="{GOOD}" font-size="10">0%</text>')
    legend_y = height - 6
    body.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#9cc3d3"/>'
                f'<text x="{left + 14}" y="{legend_y}" fill="{MUTED}" font-size="11">{escape(count_label)}</text>')
    body.append(f'<line x1="{left + 170}" y1="{legend_y - 4}" x2="{left + 186}" y2="{legend_y - 4}" stroke="{GOOD}" stroke-width="2"/>'
                f'<text x="{left + 190}" y="{legend_y}" fill="{MUTED}" font-size="11">{escape(share_label)}</text>')
    return _svg(width, height, body, label)


def heatmap(cells: dict[tuple[int, int], dict], hours: list[int], weekdays: list[str], *, label: str,
            width: int = 560, legend: str = "") -> Markup:
    """Weekday × hour: each cell's colour is the share satisfied, its text the number of answers."""
    left, top, cell_h = 44, 20, 24
    cell_w = (width - left - 6) / max(len(hours), 1)
    height = top + cell_h * len(weekdays) + 26
    body = []
    for j, h in enumerate(hours):
        body.append(f'<text x="{left + (j + 0.5) * cell_w:.1f}" y="{top - 6}" text-anchor="middle" fill="{MUTED}" font-size="11">{h}h</text>')
    for i, name in enumerate(weekdays):
        y = top + i * cell_h
        body.append(f'<text x="{left - 6}" y="{y + 16}" text-anchor="end" fill="{INK}" font-size="11">{escape(name)}</text>')
        for j, h in enumerate(hours):
            cell = cells.get((i, h))
            x = left + j * cell_w
            if not cell or not cell["n"]:
                body.append(f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" fill="#f1f4f6"/>')
                continue
            share = cell["share"]
            body.append(f'<rect x="{x + 1:.1f}" y="{y + 1}" width="{cell_w - 2:.1f}" height="{cell_h - 2}" fill="{colour(share * 100)}" '
                        f'opacity="{0.35 + 0.65 * min(cell["n"], 50) / 50:.2f}"><title>{escape(name)} {h}h: {share * 100:.0f}% · {cell["n"]}</title></rect>')
            body.append(f'<text x="{x + cell_w / 2:.1f}" y="{y + 16}" text-anchor="middle" fill="#fff" font-size="10">{share * 100:.0f}</text>')
    if legend:
        body.append(f'<text x="{left}" y="{height - 6}" fill="{MUTED}" font-size="11">{escape(legend)}</text>')
    return _svg(width, height, body, label)
