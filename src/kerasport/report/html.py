"""The report page: one HTML file with its data, styles and scripts inline (Cytoscape.js and
dagre, vendored in ``static/`` by ``scripts/vendor_report_js.sh``), so it opens offline."""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from typing import Any

PLOT_W, PLOT_H, PAD, LEGEND = 760, 280, 48, 140
PALETTE = ("#1565c0", "#e53935", "#2e7d32", "#ff8f00", "#6a1b9a", "#00838f", "#5d4037",
           "#c2185b", "#455a64", "#827717", "#283593")
FLOOR = 1e-9


def _static(name: str) -> str:
    return resources.files("kerasport.report").joinpath("static", name).read_text("utf-8")


def _script(text: str) -> str:
    return "<script>" + text.replace("</script", "<\\/script") + "</script>"


def _fmt_error(x: float | str | None) -> str:
    return "-" if x is None else x if isinstance(x, str) else f"{x:.2e}"


def _fmt_size(n: int | None) -> str:
    return "-" if n is None else f"{n / 1e6:.3f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def targets_table(data: dict[str, Any]) -> str:
    """Each target's status, file size, conversion time and output error."""
    rows = []
    for t in data["targets"]:
        status = "ok" if t["ok"] else "failed"
        seconds = "-" if t["seconds"] is None else f"{t['seconds']:.2f} s"
        rows.append(
            f"<tr><td>{html.escape(t['name'])}</td><td class=\"{'' if t['ok'] else 'bad'}\">"
            f"{status}</td><td>{_fmt_size(t['size'])}</td>"
            f"<td>{seconds}</td>"
            f"<td>{_fmt_error(t['error'])}</td><td class=\"name\">{html.escape(t['note'])}"
            "</td></tr>")
    return ("<table><tr><th>target</th><th>status</th><th>file size</th><th>conversion</th>"
            "<th>output error</th><th>note</th></tr>" + "".join(rows) + "</table>")


def layers_table(data: dict[str, Any]) -> str:
    """Every layer with its shape, parameters, support and per-target errors."""
    names = data["target_names"]
    head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
    rows = []
    for i, layer in enumerate(data["layers"]):
        errors = "".join(f"<td>{_fmt_error(layer['errors'].get(n))}</td>" for n in names)
        status = "yes" if layer["supported"] else "<b>no</b>"
        rows.append(f"<tr><td>{i}</td><td class=\"name\">{html.escape(layer['name'])}</td>"
                    f"<td class=\"name\">{html.escape(layer['kind'])}</td>"
                    f"<td>{html.escape(layer['shape'])}</td><td>{layer['params']:,}</td>"
                    f"<td>{status}</td>{errors}</tr>")
    return ("<table><tr><th>#</th><th>layer</th><th>kind</th><th>output</th><th>params</th>"
            f"<th>supported</th>{head}</tr>" + "".join(rows) + "</table>")


def _series(data: dict[str, Any], target: str) -> list[tuple[int, float]]:
    worst: dict[int, float] = {}
    for layer in data["layers"]:
        err = layer["errors"].get(target)
        if isinstance(err, float | int) and math.isfinite(err):
            worst[layer["depth"]] = max(worst.get(layer["depth"], 0.0), err)
    return sorted(worst.items())


def error_plot(data: dict[str, Any]) -> str:
    """An inline SVG: the worst layer error at each depth, log scale, one line per target."""
    series = {t: s for t in data["target_names"] if (s := _series(data, t))}
    if not series:
        return "<p class=\"note\">no per-layer errors measured</p>"
    depth = max(d for s in series.values() for d, _ in s) or 1
    top = max(math.ceil(math.log10(max(e, FLOOR))) for s in series.values() for _, e in s)
    top = max(top, -6)
    bottom = math.log10(FLOOR)

    def xy(d: int, e: float) -> str:
        x = PAD + (PLOT_W - PAD - LEGEND) * d / depth
        y = PAD / 2 + (PLOT_H - 1.5 * PAD) * (top - math.log10(max(e, FLOOR))) / (top - bottom)
        return f"{x:.1f},{y:.1f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{PLOT_W}" height="{PLOT_H}" '
             f'role="img" aria-label="error by layer depth">']
    for exp in range(int(bottom), top + 1, 3 if top - bottom > 8 else 1):
        y = xy(0, 10.0 ** exp).split(",")[1]
        parts.append(f'<line x1="{PAD}" x2="{PLOT_W - LEGEND}" y1="{y}" y2="{y}" '
                     'stroke="#eceff1"/>'
                     f'<text x="{PAD - 4}" y="{y}" font-size="10" text-anchor="end">1e{exp}'
                     '</text>')
    for i, (name, points) in enumerate(series.items()):
        colour = PALETTE[i % len(PALETTE)]
        line = " ".join(xy(d, e) for d, e in points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                     f'points="{line}"/>'
                     f'<text x="{PLOT_W - LEGEND + 8}" y="{PAD / 2 + 14 * i}" font-size="11" '
                     f'fill="{colour}">{html.escape(name)}</text>')
    for d in range(0, depth + 1, max(1, depth // 10)):
        x = xy(d, FLOOR).split(",")[0]
        parts.append(f'<text x="{x}" y="{PLOT_H - 22}" font-size="10" '
                     f'text-anchor="middle">{d}</text>')
    parts.append(f'<text x="{(PLOT_W - LEGEND) / 2}" y="{PLOT_H - 6}" font-size="11" '
                 'text-anchor="middle">layer depth (longest path from an input)</text></svg>')
    return "".join(parts)


def render(data: dict[str, Any]) -> str:
    """The whole page for a report's ``to_json()`` data."""
    model = data["model"]
    options = "".join(f"<option>{html.escape(n)}</option>" for n in data["target_names"])
    legend = ("<span style=\"background:#2e7d32\"></span>&lt;1e-6"
              "<span style=\"background:#9ccc65\"></span>&lt;1e-4"
              "<span style=\"background:#ffb300\"></span>&lt;1e-2"
              "<span style=\"background:#e53935\"></span>&ge;1e-2"
              "<span style=\"background:#b0bec5\"></span>not measured")
    payload = json.dumps(data, allow_nan=False, default=str).replace("</", "<\\/")
    title = html.escape(f"kerasport report: {data['source']}")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>{_static("report.css")}</style></head><body>
<h1>{title}</h1>
<p>{model['layers']} layers, {model['ops']} ops, {model['params']:,} parameters;
source {model['size'] / 1e6:.2f} MB. Errors are max |target - float32 runtime| / max(1, |float32|)
per layer output, on {html.escape(data['inputs_note'])}.</p>
<h2>Targets</h2>{targets_table(data)}
<h2>Graph</h2>
<p>colour by <select id="kp-target">{options}</select> <span class="legend">{legend}</span>
&nbsp; find layer <input id="kp-search" size="18"> <button id="kp-fit">fit</button></p>
<div id="kp-main"><div id="kp-graph"></div><div id="kp-side"><div id="kp-details">
<p class="note">click a layer for its details; scroll to zoom, drag to pan.</p></div></div></div>
<h2>Error by layer depth</h2>{error_plot(data)}
<details><summary><b>Every layer</b></summary>{layers_table(data)}</details>
<script type="application/json" id="kp-data">{payload}</script>
{_script(_static("cytoscape.min.js"))}
{_script(_static("dagre.min.js"))}
{_script(_static("report.js"))}
</body></html>
"""
