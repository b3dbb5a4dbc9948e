"""Where the CPU goes: py-spy's collapsed stacks summed by library and by function."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.stack import ROOT

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*)\)$")
_SITE = re.compile(r"site-packages/(?P<pkg>[A-Za-z0-9_]+)")
_STDLIB = re.compile(r"/lib/python3\.\d+/(?P<mod>[A-Za-z0-9_]+)")
_APP = str(ROOT) + "/"
RATE = 100  # samples per second per thread


@dataclass
class Profile:
    samples: int = 0
    idle: int = 0
    by_library: Counter[str] = field(default_factory=Counter)
    self_time: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)
    app_inclusive: Counter[str] = field(default_factory=Counter)

    def share(self, counter: Counter[str], top: int) -> list[tuple[str, float]]:
        total = self.samples or 1
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]


# Leaf frames of a thread that waits (py-spy cannot always tell an idle thread from a busy one).
IDLE = frozenset(
    {
        "_connection_worker_thread",  # aiosqlite's thread waiting on its queue
        "_worker",  # concurrent.futures waiting for work
        "Condition.wait",
        "Event.wait",
        "Queue.get",
        "EpollSelector.select",
        "Thread._wait_for_tstate_lock",
    }
)


def library(path: str) -> str:
    """`sqlalchemy`, `app:db`, `stdlib:asyncio`, ... for a frame's file."""
    if site := _SITE.search(path):
        return site["pkg"]
    if path.startswith(_APP):
        rest = path[len(_APP) :]
        return "app:" + (rest.split("/", 1)[0] if "/" in rest else rest.removesuffix(".py"))
    if std := _STDLIB.search(path):
        return "stdlib:" + std["mod"].removesuffix(".py")
    return path.rsplit("/", 1)[-1] or "?"


def _frames(stack: str) -> list[tuple[str, str]]:
    found = []
    for raw in stack.split(";"):
        match = _FRAME.match(raw)
        if match is None:
            continue  # process / thread labels
        file = match["file"].rsplit(":", 1)[0]
        found.append((match["func"], file))
    return found


def summarize(raw: Path) -> Profile:
    """Sum a `py-spy record --format raw --full-filenames` file."""
    profile = Profile()
    if not raw.exists():
        return profile
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = _frames(stack)
        if not frames:
            continue
        func, file = frames[-1]
        if func in IDLE:
            profile.idle += n
            continue
        profile.samples += n
        profile.by_library[library(file)] += n
        profile.self_time[f"{func} ({_short(file)})"] += n
        seen = {f"{f} ({_short(p)})" for f, p in frames}
        for name in seen:
            profile.inclusive[name] += n
        app = {f"{f} ({_short(p)})" for f, p in frames if _is_app(p)}
        for name in app:
            profile.app_inclusive[name] += n
    return profile


def _is_app(path: str) -> bool:
    return path.startswith(_APP) and "site-packages" not in path


def _short(path: str) -> str:
    if site := _SITE.search(path):
        return path[site.start() + len("site-packages/") :]
    if path.startswith(_APP):
        return path[len(_APP) :]
    if std := _STDLIB.search(path):
        return path[std.start() + 1 :]
    return path


def render(name: str, profile: Profile, top: int = 15) -> str:
    seconds = profile.samples / RATE
    lines = [f"{name}: {profile.samples} samples on CPU (~{seconds:.1f} s), {profile.idle} idle"]
    lines.append("  self time by library (% of samples):")
    lines += [f"    {pct:5.1f}%  {lib}" for lib, pct in profile.share(profile.by_library, top)]
    lines.append("  inclusive time, application functions:")
    lines += [f"    {pct:5.1f}%  {f}" for f, pct in profile.share(profile.app_inclusive, top)]
    lines.append("  inclusive time, any function:")
    lines += [f"    {pct:5.1f}%  {f}" for f, pct in profile.share(profile.inclusive, top + 10)]
    lines.append("  self time, top functions:")
    lines += [f"    {pct:5.1f}%  {f}" for f, pct in profile.share(profile.self_time, top)]
    return "\n".join(lines)
