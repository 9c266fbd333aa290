"""A long-lived worker for the concurrency test: runs ``governance`` commands when told, in this process.

The test starts two of these (real processes, imports done once) and writes one
JSON line to both stdins at the same instant per round: ``{"argvs": [[...], ...]}``.
The worker runs the commands in order, stopping at the first non-zero exit, and
answers one JSON line: each command's exit code, stdout and stderr, and the
traceback of anything the command line let escape (there must be none).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import traceback


def _run(argv: list[str]) -> dict:
    from governance.cli import main

    out, err = io.StringIO(), io.StringIO()
    escaped = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        except BaseException:  # noqa: BLE001 - reported to the test, which fails on it
            code, escaped = -1, traceback.format_exc()
    return {"argv": argv, "code": code, "stdout": out.getvalue(), "stderr": err.getvalue(), "traceback": escaped}


def main() -> None:
    # Imports paid once, before the first round, so the two workers start each round on equal terms.
    import governance.cli  # noqa: F401
    import governance.jobs.retention  # noqa: F401
    import governance.retention.certificate  # noqa: F401
    import reportlab.platypus  # noqa: F401 - the certificate's PDF

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        order = json.loads(line)
        if order.get("quit"):
            return
        results = []
        for argv in order["argvs"]:
            results.append(_run(argv))
            if results[-1]["code"] != 0:
                break
        print(json.dumps({"results": results}), flush=True)


if __name__ == "__main__":
    main()
