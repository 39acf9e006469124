"""How fast the read-only commands start and answer, against a bare ``python -c pass``.

Run as ``.venv/bin/python bench/cli.py`` (``--runs N``, default 20; ``--against DIR`` to
time another checkout's ``alerts``, ``store`` and ``notifiers`` too, e.g. one made with
``git worktree add /tmp/before HEAD~1``).

It copies the repository's ``config.toml`` (the working example: three watches, one webhook
channel) into a temporary folder, so that its store is a new SQLite file there, and runs
``rulewatch import --sample`` once. Then it runs each command as cron would, a process of its
own from the command line, and times it: the wall time and the CPU time (user + system, of
the child, from ``getrusage``). One round runs every command once (and each on the other
checkout with ``--against``), rounds alternate so that a machine whose speed drifts slows
every command alike; the figures are medians over ``--runs`` rounds, after one warm-up round
that writes the bytecode caches. Output goes to /dev/null, as a table printed to a pipe.

Each process runs ``python -c "from alerts.cli import main; main()" ARGS`` with ``PYTHONPATH``
set to the checkout: what the ``rulewatch`` script does, whichever checkout is installed.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import cpu

ROOT = Path(__file__).resolve().parents[1]
MAIN = "from alerts.cli import main; main()"
COMMANDS = [
    ["--help"],
    ["changes", "--upcoming"],
    ["changes"],
    ["rules"],
    ["reminders"],
    ["run-due", "--dry-run"],
]


def run(tree: Path, argv: list[str], folder: Path) -> tuple[float, float]:
    """One ``python ARGV`` process with ``tree`` on its path: its wall and CPU seconds."""
    environ = {**os.environ, "PYTHONPATH": str(tree)}
    # An installed rulewatch runs from bytecode (pip compiles it; a checkout writes it on the
    # first run): without it every run compiles the package again, a third of the time.
    for name in ("RULEWATCH_CONFIG", "PYTHONDONTWRITEBYTECODE"):
        environ.pop(name, None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, *argv], cwd=folder, env=environ, stdout=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def command(arguments: list[str]) -> list[str]:
    return ["-c", MAIN, "--config", "config.toml", *arguments]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20, help="rounds; the medians are over them")
    parser.add_argument("--against", type=Path, help="another checkout, timed alternately")
    args = parser.parse_args()
    trees = {"this": ROOT}
    if args.against:
        trees["other"] = args.against.resolve()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        shutil.copy(ROOT / "config.toml", folder / "config.toml")
        run(ROOT, command(["import", "--sample"]), folder)
        cases = [("python -c pass", "this", ["-c", "pass"])]
        cases += [(" ".join(c), tree, command(c)) for c in COMMANDS for tree in trees]
        timings: dict[tuple[str, str], list[tuple[float, float]]] = {
            (label, tree): [] for label, tree, _ in cases
        }
        load_before = os.getloadavg()
        for round_ in range(args.runs + 1):
            for label, tree, argv in cases:
                timing = run(trees[tree], argv, folder)
                if round_:  # the first round writes bytecode caches
                    timings[label, tree].append(timing)
        load_after = os.getloadavg()
    bare_wall, bare_cpu = medians(timings["python -c pass", "this"])
    print(f"{'command':28} {'tree':5} {'wall s':>7} {'cpu s':>7} {'wall ×':>7} {'cpu ×':>7}")
    for (label, tree), runs in timings.items():
        wall, busy = medians(runs)
        print(
            f"{label:28} {tree:5} {wall:7.3f} {busy:7.3f} "
            f"{wall / bare_wall:7.1f} {busy / bare_cpu:7.1f}"
        )
    print(f"\nmedians of {args.runs} rounds; × is the ratio to python -c pass")
    if args.against:
        print(f"other = {trees['other']}")
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {cpu()}; load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
