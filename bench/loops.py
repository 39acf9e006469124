"""The calendar feed served on asyncio's loop and h11 against uvloop and httptools.

Run as ``.venv/bin/python bench/loops.py`` (``--changes N`` (100), ``--seconds S`` per run (5),
``--pairs P`` (5)). It fills a fresh SQLite store as ``bench/feed.py`` does (its ``fill``),
then starts the app under uvicorn twice, one process each (as ``rulewatch serve`` runs it,
without the reminder scheduler): ``loop="asyncio", http="h11"`` and ``loop="uvloop",
http="httptools"`` (what ``loop="auto", http="auto"`` takes with ``uvicorn[standard]``). It
checks in ``/proc/PID/maps`` that each process has loaded the loop and parser it was given
and not the others. Then, in alternating runs, ``wrk -t1 -c8`` (``apt-get install wrk``;
without it ``bench/feed.py``'s httpx loop) asks each for ``GET /calendar.ics`` (the watched
feed), full answers and 304s, after one request that builds and caches the feed. It prints
every run's requests per second, then the median and best of each and their ratio.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from feed import CONFIG, _load, _wait_for, fill, serve
from machine import cpu

from alerts.config import load_settings

VARIANTS = {"asyncio + h11": ("asyncio", "h11"), "uvloop + httptools": ("uvloop", "httptools")}
# What each process may have mapped: the compiled parts of uvloop and httptools.
LIBRARIES = {"uvloop": "/uvloop/loop.", "httptools": "/httptools/parser/"}


def start(config: Path, loop: str, http: str) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(config), str(port), loop, http],
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    _wait_for(base, server)
    mapped = Path(f"/proc/{server.pid}/maps").read_text()
    for name, path in LIBRARIES.items():
        if (path in mapped) != (name in (loop, http)):
            raise SystemExit(f"the {loop} + {http} server has {name} loaded: {path in mapped}")
    return server, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=5, help="alternating runs per figure")
    parser.add_argument(
        "--serve", nargs=4, metavar=("CONFIG", "PORT", "LOOP", "HTTP"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        config, port, loop, http = args.serve
        serve(config, int(port), loop, http)
        return
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(CONFIG.format(database=Path(folder) / "bench.db"), encoding="utf-8")
        fill(load_settings(config), args.changes)
        servers = {name: start(config, *choice) for name, choice in VARIANTS.items()}
        try:
            measure(servers, args.seconds, args.pairs, args.changes)
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=10)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpu(s), {cpu()}; "
        f"load average {os.getloadavg()[0]:.2f} at the end; "
        f"load generator: {'wrk -t1 -c8' if shutil.which('wrk') else 'httpx (in process)'}"
    )


def measure(
    servers: dict[str, tuple[subprocess.Popen[bytes], str]], seconds: int, pairs: int, count: int
) -> None:
    path = "/calendar.ics"
    etags = set()
    for _, base in servers.values():
        first = httpx.get(base + path, timeout=120)  # builds and caches the feed
        etags.add(first.headers["etag"])
        size = len(first.content)
    if len(etags) != 1:
        raise SystemExit(f"the two servers answer different feeds: {etags}")
    print(f"GET {path}: the watched feed of {count:,} changes, {size / 1e3:,.0f} kB")
    for answer, headers in (("full", {}), ("304", {"If-None-Match": etags.pop()})):
        runs: dict[str, list[float]] = {name: [] for name in servers}
        for pair in range(pairs):
            order = list(servers) if pair % 2 == 0 else list(reversed(servers))
            for name in order:
                runs[name].append(_load(servers[name][1] + path, headers, seconds))
        for name, rates in runs.items():
            shown = ", ".join(f"{r:,.0f}" for r in rates)
            print(
                f"  {answer:4} {name:18}: median {statistics.median(rates):7,.0f} req/s, "
                f"best {max(rates):7,.0f}  ({shown})"
            )
        slow, fast = (runs[name] for name in VARIANTS)
        print(
            f"  {answer:4} uvloop + httptools / asyncio + h11: median "
            f"{statistics.median(fast) / statistics.median(slow):.2f}, "
            f"best {max(fast) / max(slow):.2f}"
        )


if __name__ == "__main__":
    main()
