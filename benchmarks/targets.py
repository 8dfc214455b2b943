"""The targets of issue 8, checked against benchmark results."""

from __future__ import annotations

from typing import Any

from kerasport.bench.report import ratios

# model -> the most NumPy may take, as a multiple of the faster of ONNX Runtime and LiteRT
NATIVE_LIMITS = {"mobilenetv2": 1.5, "resnet50": 1.5, "efficientnetb0": 1.5, "small_cnn": 1.5,
                 "lstm": 3.0, "mlp": 2.0}
KERAS_MIN = {"mlp": 50.0, "small_cnn": 50.0}  # keras.predict / numpy at batch 1, at least


def _row(target: str, measured: str, ok: bool | None, why: str = "") -> dict[str, Any]:
    return {"target": target, "measured": measured,
            "met": "n/a" if ok is None else ("yes" if ok else "NO"), "note": why}


def check(results: dict[str, dict]) -> list[dict[str, Any]]:
    """One row per target: what was measured and whether it is met."""
    rows = []
    for model, limit in NATIVE_LIMITS.items():
        res = results.get(model)
        for b in ("1", "32"):
            target = f"{model} batch {b}: numpy <= {limit:g}x fastest of ORT/LiteRT"
            r = ratios(res).get(b, {}) if res else {}
            if "numpy_vs_native" not in r:
                rows.append(_row(target, "not measured", None, _why(res)))
                continue
            v = r["numpy_vs_native"]
            rows.append(_row(target, f"{v:.2f}x", v <= limit,
                             f"fastest runs: {r['numpy_vs_native_best']:.2f}x"))
    for model, low in KERAS_MIN.items():
        res = results.get(model)
        r = ratios(res).get("1", {}) if res else {}
        target = f"{model} batch 1: keras.predict >= {low:g}x numpy"
        if "keras_vs_numpy" in r:
            v = r["keras_vs_numpy"]
            rows.append(_row(target, f"{v:.0f}x", v >= low,
                             f"fastest runs: {r['keras_vs_numpy_best']:.0f}x"))
        else:
            rows.append(_row(target, "not measured", None, _why(res)))
    cnn = (results.get("small_cnn") or {}).get("engines", {})
    np_cold = cnn.get("numpy", {}).get("cold_start_s")
    tf_cold = cnn.get("keras", {}).get("cold_start_s")
    if np_cold is not None:
        rows.append(_row("small_cnn cold start (bundle) <= 0.3 s", f"{np_cold:.3f} s",
                         np_cold <= 0.3))
    if np_cold and tf_cold is not None:
        v = tf_cold / np_cold
        rows.append(_row("small_cnn cold start >= 5x faster than TensorFlow's", f"{v:.1f}x",
                         v >= 5))
    res = results.get("resnet50") or {}
    row = res.get("engines", {}).get("numpy", {})
    if row.get("peak_mb") is not None and res.get("weights_mb"):
        limit = 1.5 * res["weights_mb"] + 200
        rows.append(_row("resnet50 batch-1 peak memory <= 1.5 x weights + 200 MB",
                         f"{row['peak_mb']:.0f} MB (limit {limit:.0f} MB, weights "
                         f"{res['weights_mb']:.0f} MB)", row["peak_mb"] <= limit))
    if row.get("convert_s") is not None:
        detail = ""
        if "read_convert_s" in row:
            detail = (f"read + convert {row['read_convert_s']:.2f} s, save (with the reference "
                      f"run) {row['save_s']:.2f} s")
        rows.append(_row("resnet50 .keras -> bundle < 2 s", f"{row['convert_s']:.2f} s",
                         row["convert_s"] < 2, detail))
    return rows


def _why(res: dict | None) -> str:
    if not res:
        return "model not benchmarked in this run"
    notes = [f"{e}: {r.get('note', '')}" for e, r in res.get("engines", {}).items()
             if r.get("status") != "ok"]
    return "; ".join(notes)[:200]
