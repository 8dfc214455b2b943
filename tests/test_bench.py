"""``kerasport bench``: table and JSON structure on the small example CNN (numpy and ONNX
Runtime engines, no Keras import). Nothing here asserts a speed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kerasport.bench import engines as bench_engines
from kerasport.bench import format_report, ratios, run_bench
from kerasport.bench.blas import MARKER, unset_note
from kerasport.cli import main

MODEL = Path(__file__).resolve().parent.parent / "examples" / "digits_cnn.keras"
FAST = ["--repeats", "3", "--warmup", "1", "--no-keras-reference", "--keep-blas-env"]


def _engines() -> str:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return "numpy"
    return "numpy,onnxruntime"


def test_bench_cli_table_and_json(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", str(MODEL), "--engines", _engines(), "--batch", "1,3",
                 "--json", str(out), *FAST]) == 0
    text = capsys.readouterr().out
    assert "batch 1 ms: median (IQR)" in text and "batch 3 ms: median (IQR)" in text
    assert "cold start s" in text and "BLAS:" in text
    data = json.loads(out.read_text())
    assert data["batches"] == [1, 3] and data["threads"] == 2
    for name in _engines().split(","):
        row = data["engines"][name]
        assert row["status"] == "ok", row
        assert row["file_mb"] > 0 and row["convert_s"] >= 0
        assert row["cold_start_s"] > 0 and row["peak_mb"] > 10
        for b in ("1", "3"):
            lat = row["latency"][b]
            assert lat["p25_ms"] <= lat["median_ms"] <= lat["p75_ms"]
            assert lat["runs"] >= 5
            assert row["max_error"][b] < 1e-5
    if "onnxruntime" in data["engines"]:
        assert set(ratios(data)["1"]) == {"numpy_vs_native", "numpy_vs_native_best"}


def test_unavailable_engine_is_skipped_with_a_note(monkeypatch):
    def missing() -> None:
        raise bench_engines.EngineUnavailable("not installed (onnxruntime)")

    monkeypatch.setattr(bench_engines.ENGINES["onnxruntime"], "check", missing)
    res = run_bench(str(MODEL), engines=["numpy", "onnxruntime"], batches=[2], repeats=2,
                    warmup=1, cold=False, reference=False)
    assert res["engines"]["onnxruntime"] == {"status": "skipped",
                                             "note": "not installed (onnxruntime)"}
    assert res["engines"]["numpy"]["latency"]["2"]["median_ms"] > 0
    assert "cold_start_s" not in res["engines"]["numpy"]
    text = format_report(res)
    assert "onnxruntime  skipped: not installed" in text


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engines"):
        run_bench(str(MODEL), engines=["numpy", "tvm"], cold=False, reference=False)


def test_blas_note(monkeypatch):
    monkeypatch.setenv(MARKER, "OPENBLAS_CORETYPE=Haswell")
    assert "unset OPENBLAS_CORETYPE=Haswell" in unset_note()
    monkeypatch.delenv(MARKER)
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)  # (this machine may set it)
    monkeypatch.setenv("OPENBLAS_L2_SIZE", "1024")
    assert "kept OPENBLAS_L2_SIZE=1024" in unset_note()


def test_executor_chunks_large_batches_without_changing_outputs(monkeypatch):
    """The runtime runs big batches of big-activation models in chunks (a speed feature the
    benchmark measures): the same outputs as the whole batch at once."""
    import numpy as np

    import kerasport
    from kerasport.runtime import executor

    monkeypatch.setattr(executor, "CHUNK_BYTES", 16384)  # digits CNN: 2 samples per chunk
    model = kerasport.load(MODEL)
    chunked = executor.Executor(model.graph)
    assert chunked.chunk == 2
    x = np.random.default_rng(0).standard_normal((7, 8, 8, 1)).astype(np.float32)
    whole = model._executor
    whole.chunk = None
    # BLAS may sum in another order for another row count: equal up to float32 rounding
    np.testing.assert_allclose(chunked.run([x])[0], whole.run([x])[0], rtol=1e-5, atol=1e-6)
