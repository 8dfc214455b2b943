"""docs/report.png: a `kerasport report` page of the bundled digits CNN (int8 and float16
bundles, ONNX and ONNX dynamic-range, measured on the held-back digits), as headless
Chromium shows it. Needs Chromium (`apt-get install chromium`) and the onnx extra."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from kerasport.report import write_report  # noqa: E402

MODEL = os.path.join(ROOT, "examples", "digits_cnn.keras")
DATA = os.path.join(ROOT, "examples", "digits_test_x.npy")
OUT = os.path.join(ROOT, "docs", "report.png")
TARGETS = ["bundle-int8", "bundle-float16", "onnx", "onnx-dynamic"]


def main() -> int:
    """Write the report to a scratch folder and screenshot it into docs/report.png."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("error: Chromium not found (apt-get install chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as work:
        page = os.path.join(work, "digits_report.html")
        write_report(MODEL, page, TARGETS, calibration=DATA, samples=450)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--hide-scrollbars", "--window-size=1300,1500",
                        "--virtual-time-budget=5000", f"--screenshot={OUT}",
                        "file://" + page], check=True, capture_output=True, timeout=120)
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
