"""The worker process: reads one JSON request per line on stdin, runs the case, answers on
the original stdout (fd 1 is then pointed at /dev/null so nothing else can corrupt the
protocol). ``faulthandler`` dumps the Python stack to a file on a fatal signal, and shortly
before the parent's timeout so that a hang can be located.

Run by :mod:`fuzz.pool`: ``python -m fuzz.worker CRASH_LOG HANG_LOG``.
"""

from __future__ import annotations

import faulthandler
import json
import os
import sys
import traceback


def main(argv: list[str]) -> int:
    """Serve requests until stdin closes."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    sys.stdout = open(os.devnull, "w")  # lives as long as the process
    crash = open(argv[1], "w")
    hang = open(argv[2], "w")
    faulthandler.enable(file=crash, all_threads=True)

    def send(msg: dict) -> None:
        proto.write(json.dumps(msg, default=str) + "\n")
        proto.flush()

    try:
        from .actions import run_case
    except Exception:  # the parent reports it as a harness failure
        send({"fatal": traceback.format_exc()})
        return 1
    send({"ready": os.getpid()})
    for line in sys.stdin:
        req = json.loads(line)

        def progress(step: str, req: dict = req) -> None:
            # the parent's time limit restarts with each operation: so does the stack dump
            hang.seek(0)
            hang.truncate()
            faulthandler.dump_traceback_later(max(0.5, req["timeout"] - 0.7), file=hang)
            send({"step": step})

        progress("start")
        try:
            result = run_case(req, progress)
        except BaseException as exc:  # a bug of the harness itself
            result = {"failures": [{"kind": "harness", "action": "worker",
                                    "signature": f"harness: {type(exc).__name__}",
                                    "message": traceback.format_exc()[-3000:]}],
                      "restart": True}
        faulthandler.cancel_dump_traceback_later()
        send({"result": result})
        if result.get("restart"):
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
