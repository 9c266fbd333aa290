"""Run every benchmark in bench/ with its default sizes; print each one's JSON line.

    python3 dev.py bench            # all
    python3 dev.py bench generator  # only those whose file name contains 'generator'
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> int:
    wanted = sys.argv[1:]
    failed = 0
    for script in sorted(HERE.glob("*_bench.py")):
        if wanted and not any(w in script.name for w in wanted):
            continue
        print(f"== {script.name}", file=sys.stderr, flush=True)
        failed |= subprocess.run([sys.executable, str(script)]).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main())
