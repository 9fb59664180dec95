"""System metrics: CPU, memory, disk, network and NVIDIA GPUs, sampled for a run.

Importing this package loads neither psutil nor NVML; a run that asks for system metrics
loads them (they are the ``system-metrics`` extra).
"""

from mltrail.client.system_metrics.control import (
    disable_system_metrics_logging,
    enable_system_metrics_logging,
    set_system_metrics_node_id,
    set_system_metrics_samples_before_logging,
    set_system_metrics_sampling_interval,
)

__all__ = [
    "disable_system_metrics_logging",
    "enable_system_metrics_logging",
    "set_system_metrics_node_id",
    "set_system_metrics_samples_before_logging",
    "set_system_metrics_sampling_interval",
]
