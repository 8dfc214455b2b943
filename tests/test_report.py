"""``kerasport report``: the page's data against real Keras models and independent conversions,
and the page itself in headless Chromium (skipped, with the reason, where Chromium, its
driver or selenium is missing; CI installs them).

Tolerances: the ONNX column's per-layer errors stay below 1e-5 (float32 export); the
int8 bundle's output error equals, to 1e-6, the error of the written int8 bundle's own
predictions against the float32 model.
"""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
from keras_models import keras_module, randomize, save

import kerasport
from kerasport.cli import main
from kerasport.metrics import max_relative_error
from kerasport.report import build_report, write_report

pytest.importorskip("onnxruntime")

EDGES = {("pixels", "conv"), ("conv", "bn"), ("bn", "side"), ("bn", "add"), ("side", "add"),
         ("add", "drop"), ("drop", "gap"), ("extra", "inner"), ("gap", "cat"),
         ("inner", "cat"), ("cat", "p"), ("cat", "q")}


@pytest.fixture(scope="module")
def branchy(tmp_path_factory):
    """Two inputs, a nested model, a residual add, BatchNorm, Dropout, two outputs."""
    k = keras_module("k3")
    a, b = k.Input((8, 8, 3), name="pixels"), k.Input((4,), name="extra")
    x = k.layers.Conv2D(6, 3, padding="same", name="conv")(a)
    x = k.layers.BatchNormalization(name="bn")(x)
    y = k.layers.Conv2D(6, 1, name="side")(x)
    x = k.layers.Add(name="add")([x, y])
    x = k.layers.Dropout(0.3, name="drop")(x)
    x = k.layers.GlobalAveragePooling2D(name="gap")(x)
    inner = k.Sequential([k.Input((4,)), k.layers.Dense(5, name="inner_dense")], name="inner")
    x = k.layers.Concatenate(name="cat")([x, inner(b)])
    model = k.Model([a, b], [k.layers.Dense(3, activation="softmax", name="p")(x),
                             k.layers.Dense(1, name="q")(x)])
    randomize(model)
    return save(model, tmp_path_factory.mktemp("report") / "branchy.keras"), model


def _page_data(page: str) -> dict:
    match = re.search(r'<script type="application/json" id="kp-data">(.*?)</script>', page,
                      re.S)
    assert match, "the page carries its data"
    return json.loads(match.group(1).replace("<\\/", "</"))


def test_report_data_matches_the_model(branchy, tmp_path):
    path, keras_model = branchy
    out = tmp_path / "r.html"
    report = write_report(str(path), str(out), ["onnx", "bundle-int8", "python"])
    page = out.read_text()
    data = _page_data(page)
    # one node per layer, the config's edges
    assert [layer["name"] for layer in data["layers"]] == [la.name for la in keras_model.layers]
    assert {tuple(e) for e in data["edges"]} == EDGES and len(data["edges"]) == len(EDGES)
    by_name = {layer["name"]: layer for layer in data["layers"]}
    assert by_name["inner"]["ops"] == ["Dense"] and by_name["drop"]["ops"] == []
    assert by_name["conv"]["params"] == 3 * 3 * 3 * 6 + 6
    # ONNX is float32: every measured layer within 1e-5 of the runtime
    onnx_errors = [layer["errors"]["onnx"] for layer in data["layers"] if "onnx" in
                   layer["errors"]]
    assert len(onnx_errors) >= len(data["layers"]) - 1 and max(onnx_errors) < 1e-5
    # the int8 column's output error is the written int8 bundle's own error
    int8 = next(t for t in report.targets if t.name == "bundle-int8")
    model = kerasport.load(str(path))
    draws = [model.make_reference(seed).inputs for seed in range(16)]
    x = [np.concatenate(parts) for parts in zip(*draws)]
    model.save(str(tmp_path / "q.npz"), weights="int8")
    lossy = kerasport.load(str(tmp_path / "q.npz"))
    want = max_relative_error(lossy.predict(x), model.predict(x))
    assert int8.error == pytest.approx(want, abs=1e-6) and int8.error > 1e-5
    # self-contained: nothing is fetched when the page opens
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<link" not in page and "@import" not in page


def test_unsupported_layers_still_drawn(tmp_path):
    k = keras_module("k3")
    inp = k.Input((4,), name="x")
    out = k.layers.Lambda(lambda t: t * 2, name="double")(k.layers.Dense(3, name="d")(inp))
    model = k.Model(inp, out)
    path = save(model, tmp_path / "lam.keras")
    report = build_report(str(path), ["onnx"])
    layers = {la.name: la for la in report.layers.layers}
    assert not layers["double"].supported and layers["d"].supported
    assert not report.targets[0].ok and "double" in report.targets[0].note


def test_cli_report_and_bad_targets(branchy, tmp_path, capsys):
    path, _ = branchy
    out = tmp_path / "cli.html"
    assert main(["report", str(path), "--targets", "bundle-float16", "-o", str(out)]) == 0
    assert out.exists() and "bundle-float16" in capsys.readouterr().out
    bad = tmp_path / "bad.html"
    assert main(["report", str(path), "--targets", "onnx,warp", "-o", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "warp" in err[0]
    assert not bad.exists()


def _browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.skip("Chromium and chromedriver not installed (apt-get install chromium "
                    "chromium-driver)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1400"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def test_page_in_headless_chromium(branchy, tmp_path):
    path, keras_model = branchy
    out = tmp_path / "page.html"
    write_report(str(path), str(out), ["onnx", "bundle-int8"])
    browser = _browser()
    try:
        browser.get(out.as_uri())
        nodes = browser.execute_script("return window.kerasportReport.cy.nodes().length")
        edges = browser.execute_script("return window.kerasportReport.cy.edges().length")
        colours = browser.execute_script(
            "return window.kerasportReport.cy.nodes().map(n => n.style('background-color'))")
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        png = browser.get_screenshot_as_png()
    finally:
        browser.quit()
    assert errors == []
    assert nodes == len(keras_model.layers) and edges == len(EDGES)
    assert len(set(colours)) >= 2, "layers are coloured by their error"
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
