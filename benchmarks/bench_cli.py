"""How quickly ``hooklab --help`` answers, as a ratio to a bare ``python -c pass`` in the same run.

Target (the layers issue): within 2.5x. The CLI imports pandas, numpy, matplotlib, httpx and
uvicorn only inside the commands that use them, so ``--help`` costs argparse and little else.
Both commands run interleaved, so a busy machine slows both alike; the figure is the ratio of
medians. Bytecode caching is on for the measured runs (as on a learner's machine), even where the
environment sets ``PYTHONDONTWRITEBYTECODE`` (this sandbox does): one warm-up run writes the caches.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

ROUNDS = 21
TARGET = 2.5


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - t0


def main() -> int:
    hooklab = shutil.which("hooklab") or str(__import__("pathlib").Path(sys.executable).with_name("hooklab"))
    wall([hooklab, "--help"])  # warm-up: writes the bytecode caches
    bare, helps = [], []
    for _ in range(ROUNDS):
        bare.append(wall([sys.executable, "-c", "pass"]))
        helps.append(wall([hooklab, "--help"]))
    b, h = statistics.median(bare), statistics.median(helps)
    ratio = h / b
    print(f"python -c pass: {b * 1000:.1f} ms   hooklab --help: {h * 1000:.1f} ms   (medians of {ROUNDS})")
    print(f"ratio {ratio:.2f} (target <= {TARGET}): {'met' if ratio <= TARGET else 'NOT met'}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
