"""System metrics: the sampler thread, its collectors and the fluent switches, on real runs.

The machine has no GPU. The NVML path is checked twice: against the real ``pynvml``
(nvidia-ml-py is installed; without a driver it must leave GPU metrics out with one debug
line, and with a GPU it must log them), and against a fake NVML module that stands in for a
GPU only where NVML finds no real one.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import mltrail
from mltrail.client.fluent.state import STATE
from mltrail.client.system_metrics import control
from mltrail.client.system_metrics.gpu import GpuCollector, open_gpu_collector
from mltrail.client.system_metrics.sampler import Sampler
from mltrail.config import load_settings
from mltrail.errors import ConfigurationError, InvalidParameterValue

MLFLOW_HOST_KEYS = {
    "system/cpu_utilization_percentage",
    "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage",
    "system/disk_usage_percentage",
    "system/disk_usage_megabytes",
    "system/disk_available_megabytes",
    "system/network_receive_megabytes",
    "system/network_transmit_megabytes",
}
OWN_HOST_KEYS = {
    "system/process_memory_usage_megabytes",
    "system/process_memory_usage_percentage",
    "system/process_cpu_utilization_percentage",
}


@pytest.fixture(autouse=True)
def _fresh_switches(store_dir: Path) -> Iterator[None]:
    control._overrides = control._Overrides()
    mltrail.set_system_metrics_sampling_interval(0.05)
    yield
    control.stop_all()
    control._overrides = control._Overrides()


def _history(run_id: str, key: str) -> list[tuple[int, float]]:
    client = mltrail.TrackingClient()
    return [(m.step, m.value) for m in client.get_metric_history(run_id, key)]


def _system_keys(run_id: str) -> set[str]:
    return {k for k in mltrail.get_run(run_id).data.metrics if k.startswith("system/")}


def test_a_run_with_system_metrics_logs_mlflow_names_step_by_step(store_dir: Path) -> None:
    with mltrail.start_run(log_system_metrics=True) as run:
        sampler = control.sampler_of(run.info.run_id)
        assert sampler is not None and sampler.alive
        deadline = time.monotonic() + 30
        while sampler.step < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not sampler.alive  # stopped with the run
    keys = _system_keys(run.info.run_id)
    assert keys >= MLFLOW_HOST_KEYS | OWN_HOST_KEYS
    assert not any(k.startswith("system/gpu_") for k in keys)  # no GPU on this machine
    cpu = _history(run.info.run_id, "system/cpu_utilization_percentage")
    assert [step for step, _ in cpu] == list(range(len(cpu)))
    assert len(cpu) >= 4  # three while running, one more when it stopped
    assert all(0.0 <= value <= 100.0 for _, value in cpu)
    memory = _history(run.info.run_id, "system/system_memory_usage_percentage")
    assert all(0.0 < value < 100.0 for _, value in memory)


def test_a_run_shorter_than_the_interval_still_gets_one_point(store_dir: Path) -> None:
    mltrail.set_system_metrics_sampling_interval(3600)
    with mltrail.start_run(log_system_metrics=True) as run:
        pass
    assert _history(run.info.run_id, "system/cpu_utilization_percentage")[0][0] == 0
    assert len(_history(run.info.run_id, "system/disk_usage_percentage")) == 1


def test_off_unless_asked(store_dir: Path) -> None:
    with mltrail.start_run() as run:
        assert control.sampler_of(run.info.run_id) is None
    assert _system_keys(run.info.run_id) == set()


def test_global_switch_and_the_per_run_override(store_dir: Path) -> None:
    mltrail.enable_system_metrics_logging()
    with mltrail.start_run() as on:
        pass
    with mltrail.start_run(log_system_metrics=False) as off:
        pass
    mltrail.disable_system_metrics_logging()
    with mltrail.start_run() as off_again:
        pass
    assert _system_keys(on.info.run_id) >= MLFLOW_HOST_KEYS
    assert _system_keys(off.info.run_id) == set()
    assert _system_keys(off_again.info.run_id) == set()


@pytest.mark.parametrize(
    "variable", ["MLTRAIL_ENABLE_SYSTEM_METRICS_LOGGING", "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"]
)
def test_the_setting_and_mlflows_variable_turn_it_on(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "true")
    STATE.settings = None  # read the environment again
    try:
        with mltrail.start_run() as run:
            pass
    finally:
        STATE.settings = None
    assert _system_keys(run.info.run_id) >= MLFLOW_HOST_KEYS


def test_mlflow_names_for_interval_and_window_and_ours_win() -> None:
    settings = load_settings(
        {
            "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "2.5",
            "MLFLOW_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING": "4",
            "MLTRAIL_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING": "3",
        }
    )
    assert settings.system_metrics_sampling_interval == 2.5
    assert settings.system_metrics_samples_before_logging == 3
    assert load_settings({}).system_metrics_sampling_interval == 10.0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MLTRAIL_SYSTEM_METRICS_SAMPLING_INTERVAL", "0", "positive number of seconds"),
        ("MLTRAIL_SYSTEM_METRICS_SAMPLING_INTERVAL", "-3", "positive number of seconds"),
        ("MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL", "often", "MLFLOW_SYSTEM_METRICS_SAMPLING"),
        ("MLTRAIL_SYSTEM_METRICS_SAMPLES_BEFORE_LOGGING", "0", "at least 1"),
        ("MLTRAIL_AUTOLOG_MAX_TUNING_RUNS", "-1", "0 or more"),
    ],
)
def test_bad_settings_say_which_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings({variable: value})


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_bad_interval_from_code(bad: float) -> None:
    with pytest.raises(InvalidParameterValue, match="positive number of seconds"):
        mltrail.set_system_metrics_sampling_interval(bad)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_window_from_code(bad: Any) -> None:
    with pytest.raises(InvalidParameterValue, match="at least 1"):
        mltrail.set_system_metrics_samples_before_logging(bad)


class _Counting:
    """A collector whose n-th sample is n (gauge) and 10 * n (total)."""

    name = "counting"

    def __init__(self) -> None:
        self.n = 0

    def gauges(self) -> dict[str, float]:
        self.n += 1
        return {"g": float(self.n)}

    def totals(self) -> dict[str, float]:
        return {"t": 10.0 * self.n}


def _collect(sampler_points: list[tuple[dict[str, float], int]]) -> Any:
    def publish(point: dict[str, float], step: int) -> None:
        sampler_points.append((dict(point), step))

    return publish


def test_window_averages_gauges_and_keeps_the_last_total() -> None:
    points: list[tuple[dict[str, float], int]] = []
    sampler = Sampler([_Counting()], publish=_collect(points), interval=0.01, window=2)
    sampler.start()
    deadline = time.monotonic() + 30
    while len(points) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    assert points[0] == ({"g": 1.5, "t": 20.0}, 0)
    assert points[1] == ({"g": 3.5, "t": 40.0}, 1)
    assert sampler.cpu_seconds >= 0.0 and sampler.samples >= 4


class _Broken:
    name = "broken"

    def gauges(self) -> dict[str, float]:
        raise OSError("sensor gone")

    def totals(self) -> dict[str, float]:
        return {}


def test_a_failing_collector_is_dropped_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    points: list[tuple[dict[str, float], int]] = []
    caplog.set_level(logging.WARNING, logger="mltrail.system_metrics")
    sampler = Sampler([_Broken(), _Counting()], publish=_collect(points), interval=0.01)
    sampler.start()
    deadline = time.monotonic() + 30
    while len(points) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler.stop()
    warnings = [r for r in caplog.records if "broken" in r.getMessage()]
    assert len(warnings) == 1 and "sensor gone" in warnings[0].getMessage()
    assert all(set(point) == {"g", "t"} for point, _ in points)


def test_stop_wakes_the_thread_at_once() -> None:
    points: list[tuple[dict[str, float], int]] = []
    sampler = Sampler([_Counting()], publish=_collect(points), interval=3600)
    sampler.start()
    sampler.stop(timeout=30)
    assert not sampler.alive
    assert points == [({"g": 1.0, "t": 10.0}, 0)]


def test_points_go_through_the_logging_queue(store_dir: Path) -> None:
    with mltrail.start_run(log_system_metrics=True) as run:
        pass
    stats = mltrail.run_stats(run.info.run_id)
    assert stats.accepted >= len(MLFLOW_HOST_KEYS | OWN_HOST_KEYS)
    assert stats.acknowledged == stats.accepted


def test_resumed_run_continues_after_its_last_step(store_dir: Path) -> None:
    with mltrail.start_run(log_system_metrics=True) as run:
        pass
    first = _history(run.info.run_id, "system/cpu_utilization_percentage")
    with mltrail.start_run(run_id=run.info.run_id, log_system_metrics=True):
        pass
    steps = [s for s, _ in _history(run.info.run_id, "system/cpu_utilization_percentage")]
    assert steps == list(range(len(first) + 1))


def test_node_id_goes_into_the_keys(store_dir: Path) -> None:
    mltrail.set_system_metrics_node_id("node-0")
    with mltrail.start_run(log_system_metrics=True) as run:
        pass
    keys = _system_keys(run.info.run_id)
    assert "system/node-0/cpu_utilization_percentage" in keys
    assert "system/cpu_utilization_percentage" not in keys


def test_without_psutil_the_run_goes_on_and_says_why_once(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "psutil", None)  # import psutil now raises ImportError
    monkeypatch.setattr(control, "_said", set())
    caplog.set_level(logging.WARNING, logger="mltrail.system_metrics")
    for _ in range(2):
        with mltrail.start_run(log_system_metrics=True) as run:
            mltrail.log_metric("loss", 1.0)
    said = [r for r in caplog.records if "psutil is not installed" in r.getMessage()]
    assert len(said) == 1
    assert "mltrail[system-metrics]" in said[0].getMessage()
    assert set(mltrail.get_run(run.info.run_id).data.metrics) == {"loss"}


def _real_nvml_works() -> bool:
    import pynvml

    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return False
    pynvml.nvmlShutdown()
    return True


def test_real_nvml_gives_gpu_metrics_or_one_debug_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="mltrail.system_metrics")
    collector = open_gpu_collector()
    if _real_nvml_works():
        assert collector is not None
        assert "gpu_0_utilization_percentage" in collector.gauges()
        collector.close()
        return
    # nvidia-ml-py is installed but there is no driver (this machine): no GPU part.
    assert collector is None
    lines = [r for r in caplog.records if r.name == "mltrail.system_metrics"]
    assert len(lines) == 1 and lines[0].levelno == logging.DEBUG
    assert "NVML could not start" in lines[0].getMessage()


def test_without_nvidia_ml_py_one_debug_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    caplog.set_level(logging.DEBUG, logger="mltrail.system_metrics")
    assert open_gpu_collector() is None
    lines = [r.getMessage() for r in caplog.records if r.name == "mltrail.system_metrics"]
    assert lines == ["No GPU metrics: nvidia-ml-py is not installed"]


class FakeNVMLError(Exception):
    pass


def _fake_nvml(*, power_fails_on: int | None = None) -> Any:
    """Two GPUs as NVML would describe them (values in NVML's units: bytes, mW, °C)."""
    state = {"init": 0, "shutdown": 0}

    def power(handle: int) -> int:
        if handle == power_fails_on:
            raise FakeNVMLError("Not Supported")
        return 150_000 + handle * 1000

    return SimpleNamespace(
        state=state,
        NVMLError=FakeNVMLError,
        NVML_TEMPERATURE_GPU=0,
        nvmlInit=lambda: state.__setitem__("init", state["init"] + 1),
        nvmlShutdown=lambda: state.__setitem__("shutdown", state["shutdown"] + 1),
        nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetUtilizationRates=lambda h: SimpleNamespace(gpu=40 + h, memory=10),
        nvmlDeviceGetMemoryInfo=lambda h: SimpleNamespace(used=4_000_000_000, total=16_000_000_000),
        nvmlDeviceGetTemperature=lambda h, sensor: 60 + h,
        nvmlDeviceGetPowerUsage=power,
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 300_000,
    )


@pytest.fixture
def no_real_gpu() -> None:
    if _real_nvml_works():
        pytest.skip(
            "a real GPU is present: test_real_nvml_gives_gpu_metrics_or_one_debug_line covers it"
        )


@pytest.mark.usefixtures("no_real_gpu")
def test_fake_nvml_gives_every_gpu_metric_under_mlflow_names(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="mltrail.system_metrics")
    nvml = _fake_nvml(power_fails_on=1)
    collector = open_gpu_collector(nvml)
    assert isinstance(collector, GpuCollector)
    first = collector.gauges()
    assert first["gpu_0_utilization_percentage"] == 40.0
    assert first["gpu_1_utilization_percentage"] == 41.0
    assert first["gpu_0_memory_usage_megabytes"] == 4000.0
    assert first["gpu_0_memory_total_megabytes"] == 16000.0
    assert first["gpu_0_memory_usage_percentage"] == 25.0
    assert first["gpu_1_temperature_celsius"] == 61.0
    assert first["gpu_0_power_usage_watts"] == 150.0
    assert first["gpu_0_power_usage_percentage"] == 50.0
    # GPU 1 does not report power: left out, said once at debug level, asked no more.
    assert "gpu_1_power_usage_watts" not in first
    second = collector.gauges()
    assert second.keys() == first.keys()
    said = [r for r in caplog.records if "GPU 1: no power" in r.getMessage()]
    assert len(said) == 1 and said[0].levelno == logging.DEBUG
    collector.close()
    assert nvml.state == {"init": 1, "shutdown": 1}


@pytest.mark.usefixtures("no_real_gpu")
def test_fake_gpu_metrics_reach_the_run(store_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = _fake_nvml()
    monkeypatch.setattr(control, "open_gpu_collector", lambda: open_gpu_collector(nvml))
    with mltrail.start_run(log_system_metrics=True) as run:
        pass
    keys = _system_keys(run.info.run_id)
    assert {"system/gpu_0_utilization_percentage", "system/gpu_1_power_usage_watts"} <= keys
    assert keys >= MLFLOW_HOST_KEYS
    assert nvml.state["shutdown"] == 1  # NVML released when the run's sampler ended


def test_samplers_of_two_threads_stay_apart(store_dir: Path) -> None:
    ids: list[str] = []

    def work() -> None:
        with mltrail.start_run(log_system_metrics=True) as run:
            ids.append(run.info.run_id)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(ids) == 2
    for run_id in ids:
        assert _history(run_id, "system/disk_usage_percentage")[0][0] == 0
