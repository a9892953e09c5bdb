"""How much of the machine's CPU time went idle lately, for background work that should only use spare CPU.

Read from the kernel's counters (``/proc/stat``: idle and iowait against the total, over every CPU). Where
they cannot be read (not Linux), nothing is known, and callers go ahead as if the CPUs were idle.
"""

from __future__ import annotations

from pathlib import Path

PROC_STAT = Path("/proc/stat")


class IdleCpu:
    def __init__(self, source: Path = PROC_STAT) -> None:
        self.source = source
        self._last = self._read()

    @property
    def readable(self) -> bool:
        return self._last is not None

    def share_since_last(self) -> float | None:
        """The idle share of CPU time since the previous reading (or since this object was made), 0 to 1;
        None when the counters cannot be read, or have not moved yet (the next call then measures from the
        same reading)."""
        now = self._read()
        previous = self._last
        if now is None or previous is None:
            self._last = now
            return None
        idle, total = now[0] - previous[0], now[1] - previous[1]
        if total <= 0:
            return None
        self._last = now
        return min(1.0, max(0.0, idle / total))

    def _read(self) -> tuple[int, int] | None:
        try:
            with self.source.open() as stat:
                fields = stat.readline().split()
        except OSError:
            return None
        if not fields or fields[0] != "cpu" or len(fields) < 6:
            return None
        try:
            ticks = [int(value) for value in fields[1:]]
        except ValueError:
            return None
        # user nice system idle iowait irq softirq steal [guest guest_nice]: guests are already in user/nice.
        counted = ticks[:8]
        return ticks[3] + ticks[4], sum(counted)
