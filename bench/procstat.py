"""CPU time each process of the stack spends during a scenario (Linux /proc), per operation.

`other` is the rest of the machine: the PostgreSQL server when it is the database, the kernel.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far; 0 where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3, utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / _TICK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (all cores, steal included)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / _TICK


@dataclass
class CpuUsage:
    wall_s: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)

    def per_op_ms(self, ops: int) -> dict[str, float]:
        return {name: round(1000 * s / ops, 2) for name, s in self.cpu_s.items()} if ops else {}

    def busy_cores(self) -> float:
        return sum(self.cpu_s.values()) / self.wall_s if self.wall_s else 0.0


@contextmanager
def measured(pids: Mapping[str, int]) -> Iterator[CpuUsage]:
    """CPU seconds per named process over the `with` block, filled in when it ends."""
    usage = CpuUsage()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    machine_before = machine_busy_seconds()
    started = time.perf_counter()
    try:
        yield usage
    finally:
        usage.wall_s = time.perf_counter() - started
        usage.cpu_s = {
            name: round(cpu_seconds(pid) - before[name], 3) for name, pid in pids.items()
        }
        # Everything else on the machine: the PostgreSQL server, the kernel, other tenants.
        other = machine_busy_seconds() - machine_before - sum(usage.cpu_s.values())
        usage.cpu_s["other"] = round(max(other, 0.0), 3)
