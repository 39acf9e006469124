"""What the benchmarks share about where they run: the processor they name beside their
figures, and throwaway PostgreSQL databases to run on."""

from __future__ import annotations

import os
import platform
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def cpu() -> str:
    """The processor's model name (Linux), else the machine's architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


@contextmanager
def postgres_database(server: str, label: str) -> Iterator[str]:
    """A throwaway database on ``server`` (a URL of its maintenance database), dropped after;
    ``label`` tells the benchmark's databases apart."""
    import psycopg

    name = f"rulewatch_bench_{label}_{os.getpid()}"
    plain = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
