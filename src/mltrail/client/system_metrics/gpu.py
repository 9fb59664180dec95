"""NVIDIA GPUs through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

Without the package, without a driver or without a GPU there is simply no GPU collector,
and one debug line says why. A query that a device does not support (power on some boards,
say) is dropped for that device after its first failure, also with one debug line.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any

logger = logging.getLogger("mltrail.system_metrics")

_MB = 1e6


def open_gpu_collector(nvml: ModuleType | None = None) -> GpuCollector | None:
    """A collector over every NVIDIA GPU, or None (said once, at debug level)."""
    if nvml is None:
        try:
            nvml = importlib.import_module("pynvml")
        except ImportError:
            logger.debug("No GPU metrics: nvidia-ml-py is not installed")
            return None
    try:
        nvml.nvmlInit()
        count = int(nvml.nvmlDeviceGetCount())
        handles = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
    except Exception as exc:  # NVMLError: no driver, no library, no permission
        logger.debug("No GPU metrics: NVML could not start (%s)", exc)
        return None
    if not handles:
        logger.debug("No GPU metrics: NVML found no GPU")
        return None
    return GpuCollector(nvml, handles)


class GpuCollector:
    name = "gpu"

    def __init__(self, nvml: ModuleType, handles: list[Any]) -> None:
        self._nvml = nvml
        self._handles = handles
        self._broken: set[tuple[int, str]] = set()

    def gauges(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, handle in enumerate(self._handles):
            for what, query in self._queries():
                if (i, what) in self._broken:
                    continue
                try:
                    for name, value in query(handle).items():
                        out[f"gpu_{i}_{name}"] = value
                except Exception as exc:
                    self._broken.add((i, what))
                    logger.debug("GPU %d: no %s metrics from now on (%s)", i, what, exc)
        return out

    def totals(self) -> dict[str, float]:
        return {}

    def _queries(self) -> list[tuple[str, Callable[[Any], dict[str, float]]]]:
        return [
            ("utilization", self._utilization),
            ("memory", self._memory),
            ("temperature", self._temperature),
            ("power", self._power),
        ]

    def _utilization(self, handle: Any) -> dict[str, float]:
        rates = self._nvml.nvmlDeviceGetUtilizationRates(handle)
        return {"utilization_percentage": float(rates.gpu)}

    def _memory(self, handle: Any) -> dict[str, float]:
        memory = self._nvml.nvmlDeviceGetMemoryInfo(handle)
        return {
            "memory_usage_megabytes": memory.used / _MB,
            "memory_total_megabytes": memory.total / _MB,
            "memory_usage_percentage": memory.used / memory.total * 100 if memory.total else 0.0,
        }

    def _temperature(self, handle: Any) -> dict[str, float]:
        sensor = getattr(self._nvml, "NVML_TEMPERATURE_GPU", 0)
        return {"temperature_celsius": float(self._nvml.nvmlDeviceGetTemperature(handle, sensor))}

    def _power(self, handle: Any) -> dict[str, float]:
        milliwatts = self._nvml.nvmlDeviceGetPowerUsage(handle)
        limit = self._nvml.nvmlDeviceGetEnforcedPowerLimit(handle)
        out = {"power_usage_watts": milliwatts / 1000}
        if limit:
            out["power_usage_percentage"] = milliwatts / limit * 100
        return out

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except Exception as exc:
            logger.debug("NVML shutdown failed: %s", exc)
