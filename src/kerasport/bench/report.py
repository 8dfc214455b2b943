"""The table printed by ``kerasport bench`` and the ratios the targets are stated in."""

from __future__ import annotations

from typing import Any

from kerasport.bench.engines import NATIVE


def _num(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def latency_cell(lat: dict[str, float] | None) -> str:
    """'median (p25-p75)' in ms."""
    if not lat:
        return "-"
    return f"{lat['median_ms']:.3g} ({lat['p25_ms']:.3g}-{lat['p75_ms']:.3g})"


def median(result: dict, engine: str, batch: int, key: str = "median_ms") -> float | None:
    """Median (or ``key``: min_ms, ...) latency in ms of ``engine`` at ``batch``, None if it
    did not run."""
    lat = result["engines"].get(engine, {}).get("latency", {}).get(str(batch))
    return lat[key] if lat else None


def ratios(result: dict) -> dict[str, dict[str, float]]:
    """Per batch: numpy / fastest native engine (ONNX Runtime, LiteRT) and keras / numpy, on
    median latencies; ``*_best`` on the fastest runs (less sensitive to other processes)."""
    out: dict[str, dict[str, float]] = {}
    for b in result["batches"]:
        r: dict[str, float] = {}
        for key, suffix in (("median_ms", ""), ("min_ms", "_best")):
            natives = [m for m in (median(result, e, b, key) for e in NATIVE) if m is not None]
            keras_ms = median(result, "keras", b, key)
            for engine in ("numpy", "numpy1"):
                np_ms = median(result, engine, b, key)
                if np_ms is not None and natives:
                    r[f"{engine}_vs_native{suffix}"] = np_ms / min(natives)
                if np_ms is not None and keras_ms is not None:
                    r[f"keras_vs_{engine}{suffix}"] = keras_ms / np_ms
        out[str(b)] = r
    return out


def format_report(result: dict[str, Any]) -> str:
    """A plain-text table: one row per engine, then the notes and ratios."""
    batches = result["batches"]
    header = ["engine", "file MB", "convert s", "cold start s", "peak MB",
              *[f"batch {b} ms: median (IQR)" for b in batches], "max err vs ref"]
    rows = []
    for name, row in result["engines"].items():
        if row["status"] != "ok":
            rows.append([name, f"{row['status']}: {row.get('note', '')}"])
            continue
        errs = row.get("max_error", {})
        rows.append([name, _num(row.get("file_mb"), ".2f"), _num(row.get("convert_s"), ".2f"),
                     _num(row.get("cold_start_s"), ".3f"), _num(row.get("peak_mb"), ".0f"),
                     *[latency_cell(row.get("latency", {}).get(str(b))) for b in batches],
                     _num(max(errs.values()) if errs else None, ".1e")])
    widths = [max(len(r[i]) for r in [header, *rows] if len(r) > i and len(r) == len(header))
              for i in range(len(header))]
    lines = [f"{result['model']}: {result['threads']} threads per engine",
             "  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) if len(r) == len(header)
                     else "  ".join(r))
    for b, r in ratios(result).items():
        parts = ratio_parts(r)
        if parts:
            lines.append(f"batch {b}: " + "; ".join(parts))
    lines += [f"note: {name}: {row['note']}" for name, row in result["engines"].items()
              if row["status"] == "ok" and row.get("note")]
    lines += [f"note: {n}" for n in result["notes"]]
    lines.append("cold start: new process to end of the first batch-1 prediction (imports and "
                 "loading included); peak MB: that process' peak resident set (VmHWM); max err: "
                 "max|y - ref| / max(1, max|ref|)")
    return "\n".join(lines)


def ratio_parts(r: dict, markdown: bool = False) -> list[str]:
    """The ratios of one batch size as phrases (numbers in bold for markdown)."""
    b = "**" if markdown else ""
    labels = [("numpy_vs_native", "numpy / fastest native engine", ".2f"),
              ("keras_vs_numpy", "keras.predict / numpy", ".1f"),
              ("numpy1_vs_native", "numpy1 (BLAS at one thread) / fastest native", ".2f")]
    return [f"{label} {b}{r[key]:{fmt}}x{b} (fastest runs {r[key + '_best']:{fmt}}x)"
            for key, label, fmt in labels if key in r]
