"""CPU, memory, disk and network of the machine and of this process, read with psutil.

Metric names follow MLflow's (``cpu_utilization_percentage``, ``system_memory_usage_megabytes``,
``disk_usage_percentage``, ``network_receive_megabytes``, ...) so that runs logged by either
tool chart the same; the process and disk I/O figures are mltrail's own additions.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

_MB = 1e6


class HostCollector:
    """Gauges are averaged over the window; totals count from the start of sampling."""

    name = "host"

    def __init__(self, psutil: ModuleType, *, disk_path: str = os.sep) -> None:
        self._ps = psutil
        self._disk_path = disk_path
        self._process = psutil.Process()
        self._cpu_count = psutil.cpu_count() or 1
        # cpu_percent() compares with the previous call: the first one primes it.
        psutil.cpu_percent(interval=None)
        self._process.cpu_percent(interval=None)
        self._net0 = _net(psutil)
        self._disk0 = _disk_io(psutil)

    def gauges(self) -> dict[str, float]:
        ps = self._ps
        memory = ps.virtual_memory()
        rss = self._process.memory_info().rss
        disk = ps.disk_usage(self._disk_path)
        return {
            "cpu_utilization_percentage": float(ps.cpu_percent(interval=None)),
            "system_memory_usage_megabytes": memory.used / _MB,
            "system_memory_usage_percentage": memory.used / memory.total * 100,
            "process_cpu_utilization_percentage": self._process.cpu_percent(interval=None)
            / self._cpu_count,
            "process_memory_usage_megabytes": rss / _MB,
            "process_memory_usage_percentage": rss / memory.total * 100,
            "disk_usage_percentage": float(disk.percent),
            "disk_usage_megabytes": disk.used / _MB,
            "disk_available_megabytes": disk.free / _MB,
        }

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        net = _net(self._ps)
        if net is not None and self._net0 is not None:
            out["network_receive_megabytes"] = (net[0] - self._net0[0]) / _MB
            out["network_transmit_megabytes"] = (net[1] - self._net0[1]) / _MB
        disk = _disk_io(self._ps)
        if disk is not None and self._disk0 is not None:
            out["disk_read_megabytes"] = (disk[0] - self._disk0[0]) / _MB
            out["disk_write_megabytes"] = (disk[1] - self._disk0[1]) / _MB
        return out


def _net(psutil: Any) -> tuple[int, int] | None:
    counters = psutil.net_io_counters()
    return None if counters is None else (counters.bytes_recv, counters.bytes_sent)


def _disk_io(psutil: Any) -> tuple[int, int] | None:
    try:
        counters = psutil.disk_io_counters()
    except (OSError, RuntimeError):  # no block devices visible (some containers)
        return None
    return None if counters is None else (counters.read_bytes, counters.write_bytes)
