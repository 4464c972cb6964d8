"""Reliability figures (issue 16): the fault suite at full counts, printed as one table.

    .venv/bin/python bench/faults.py [--areas server,live,trainer,files] [--keep DIR]

Runs the same scenarios as `tests/faults/` (which run them with small counts on every test run)
with the counts the issue asks for:
- server: 1,000 fuzzed `/offer` bodies against a running `dance-live --serve` on 127.0.0.1, a real
  peer served afterwards, 20 viewers SIGKILLed mid-stream while others watch, and every
  unauthenticated request to a server bound beyond loopback refused (all traffic stays on loopback);
- live: a camera that sends garbage, changes resolution, pauses or stops for good, each with an mp4
  that must come out finalized;
- trainer: `dance-train fit` SIGKILLed at 10 random moments (some during a checkpoint write), each
  resumed, the end compared bit for bit with an uninterrupted run;
- files: 100 corrupt or truncated inputs fed to the command that reads them.
Each area prepares what it needs (a tiny trained run, a short clip) in a scratch folder. It takes
a while on 2 cores (tens of minutes); the README's "Reliability" table quotes its output.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the scenarios live in tests/faults

from tests.faults import file_faults, live_faults, server_faults, trainer_faults  # noqa: E402
from tests.faults.report import FaultRow  # noqa: E402
from trainer.metrics import text_table  # noqa: E402

AREAS: dict[str, Callable[[Path], list[FaultRow]]] = {  # each runs its scenarios at full counts in a work folder
    "server": server_faults.full_rows,
    "live": live_faults.full_rows,
    "trainer": trainer_faults.full_rows,
    "files": file_faults.full_rows,
}


def print_table(rows: list[FaultRow], seconds: dict[str, float]) -> None:
    body = [[f"{row.area}: {row.tried}", str(row.count), str(row.passed)] for row in rows]
    print("\n" + text_table(["tried", "times", "passed"], body))
    print("time per area: " + ", ".join(f"{area} {s / 60:.1f} min" for area, s in seconds.items()))
    failed = [row for row in rows if not row.all_passed]
    for row in failed:
        print("FAILED " + row.summary())
    print(f"{sum(r.count for r in rows)} tries, {sum(r.passed for r in rows)} passed; "
          + ("every row passed" if not failed else f"{len(failed)} row(s) with failures"))


@click.command()
@click.option("--areas", default=",".join(AREAS), show_default=True, help="Comma-separated areas to run.")
@click.option("--keep", type=click.Path(path_type=Path), help="Keep the scratch folders here (to look at what failed).")
def main(areas: str, keep: Path | None) -> None:
    wanted = [name.strip() for name in areas.split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(AREAS))
    if unknown:
        raise click.BadParameter(f"unknown area(s) {', '.join(unknown)}; choose from {', '.join(AREAS)}")
    rows: list[FaultRow] = []
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = keep or Path(scratch)
        for name in wanted:
            work = root / name
            work.mkdir(parents=True, exist_ok=True)
            print(f"{name}: running...", flush=True)
            start = time.monotonic()
            found = AREAS[name](work)
            seconds[name] = time.monotonic() - start
            for row in found:
                print(f"  {row.summary()}", flush=True)
            rows += found
    print_table(rows, seconds)
    sys.exit(0 if all(row.all_passed for row in rows) else 1)


if __name__ == "__main__":
    main()
