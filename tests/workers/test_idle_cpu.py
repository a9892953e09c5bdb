"""The sweep's view of spare CPU: the idle share of the kernel's CPU counters between two readings, and the
wait for spare CPU, which never outlasts its bound and never holds up a machine with idle CPU."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from workers.idle_cpu import PROC_STAT, IdleCpu
from workers.key_tasks import wait_for_spare_cpu


def write_stat(path: Path, busy: int, idle: int, iowait: int = 0) -> None:
    # user nice system idle iowait irq softirq steal guest guest_nice; replaced whole, as the kernel's file
    # is read whole
    staged = path.with_suffix(".new")
    staged.write_text(f"cpu  {busy} 0 0 {idle} {iowait} 0 0 0 7 0\ncpu0 1 0 0 1 0 0 0 0 0 0\n")
    staged.replace(path)


def test_the_idle_share_between_two_readings(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    write_stat(stat, busy=1000, idle=1000)
    idle = IdleCpu(stat)
    write_stat(stat, busy=1300, idle=1050, iowait=50)
    assert idle.share_since_last() == 0.25  # 100 of 400 ticks idle or waiting for I/O; guests not twice
    write_stat(stat, busy=1300, idle=1150, iowait=50)
    assert idle.share_since_last() == 1.0
    assert idle.share_since_last() is None  # the counters have not moved
    assert idle.readable
    write_stat(stat, busy=1400, idle=1150, iowait=50)
    assert idle.share_since_last() == 0.0


def test_unreadable_counters_are_unknown(tmp_path: Path) -> None:
    missing = IdleCpu(tmp_path / "missing")
    assert missing.share_since_last() is None
    assert not missing.readable
    wait_for_spare_cpu(missing, time.monotonic() + 3600)  # nothing known: no waiting
    garbage = tmp_path / "stat"
    garbage.write_text("intr 1 2 3\n")
    assert IdleCpu(garbage).share_since_last() is None


def test_the_real_counters_read_as_a_share() -> None:
    idle = IdleCpu()
    time.sleep(0.05)
    share = idle.share_since_last()
    assert share is None if not PROC_STAT.exists() else 0.0 <= share <= 1.0


def test_a_saturated_machine_holds_the_sweep_until_the_bound(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    write_stat(stat, busy=1000, idle=1000)
    idle = IdleCpu(stat)
    busy = 1000

    def all_busy() -> None:
        nonlocal busy
        while not done.is_set():
            busy += 100
            write_stat(stat, busy=busy, idle=1000)
            time.sleep(0.01)

    done = threading.Event()
    writer = threading.Thread(target=all_busy)
    writer.start()
    try:
        until = time.monotonic() + 0.5
        wait_for_spare_cpu(idle, until)
        assert time.monotonic() >= until
    finally:
        done.set()
        writer.join()


def test_spare_cpu_lets_the_sweep_go_on_at_once(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    write_stat(stat, busy=1000, idle=1000)
    idle = IdleCpu(stat)
    write_stat(stat, busy=1100, idle=1100)
    waiter = threading.Thread(target=wait_for_spare_cpu, args=(idle, time.monotonic() + 3600))
    waiter.start()
    waiter.join(30)  # a bound against hanging, not a measure of speed
    assert not waiter.is_alive()
