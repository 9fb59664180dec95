"""Error shapes, limits, operational endpoints and server options, against real servers."""

from __future__ import annotations

import json
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from mltrail.wire import columns_of

from .conftest import LiveServer

V1 = "/api/v1"


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert "Traceback" not in body["message"]
    return str(body["message"])


def test_error_shapes(live_server: LiveServer) -> None:
    url = live_server.url + V1
    with httpx.Client() as http:
        _error(http.get(f"{url}/runs/{'0' * 32}"), 404, "RESOURCE_DOES_NOT_EXIST")
        _error(http.get(f"{url}/experiments/999"), 404, "RESOURCE_DOES_NOT_EXIST")
        bad_json = http.post(
            f"{url}/experiments", content=b'{"name": ', headers={"content-type": "application/json"}
        )
        _error(bad_json, 400, "BAD_REQUEST")
        message = _error(
            http.post(f"{url}/experiments", json={"name": 5}), 400, "INVALID_PARAMETER_VALUE"
        )
        assert "name" in message
        message = _error(http.post(f"{url}/experiments", json={}), 400, "INVALID_PARAMETER_VALUE")
        assert "name" in message
        message = _error(
            http.post(f"{url}/experiments/search", json={"view_type": "SOMETIMES"}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        assert "view_type" in message
        run_id = http.post(f"{url}/runs", json={"experiment_id": "0"}).json()["run"]["info"][
            "run_id"
        ]
        _error(
            http.patch(f"{url}/runs/{run_id}", json={"status": "DONE"}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        batch = f"{url}/runs/{run_id}/batch"
        malformed = http.post(batch, content=b"[1,", headers={"content-type": "application/json"})
        _error(malformed, 400, "BAD_REQUEST")
        _error(
            http.post(batch, json={"metrics": {"m": {"values": ["x"]}}}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        _error(
            http.post(batch, json={"metrics": {"m": {"values": [1.0], "steps": [1.5]}}}),
            400,
            "INVALID_PARAMETER_VALUE",
        )
        _error(http.post(batch, json={"metrics": [{"key": "m"}]}), 400, "INVALID_PARAMETER_VALUE")
        _error(http.post(batch, json={"params": {"p": 1}}), 400, "INVALID_PARAMETER_VALUE")
        _error(http.post(batch, json={"bogus": 1}), 400, "INVALID_PARAMETER_VALUE")
        too_many = {"metrics": {"m": {"values": [0.0] * 100_001}}}
        _error(http.post(batch, json=too_many), 400, "INVALID_PARAMETER_VALUE")
        _error(http.get(f"{url}/nope"), 404, "ENDPOINT_NOT_FOUND")
        _error(
            http.post(
                f"{url}/runs/search", json={"experiment_ids": ["0"], "filter": "metrics.m >"}
            ),
            400,
            "INVALID_PARAMETER_VALUE",
        )
    assert " 500 " not in live_server.log()


def test_batch_accepts_point_list_and_header_idempotency_key(live_server: LiveServer) -> None:
    url = live_server.url + V1
    with httpx.Client() as http:
        run_id = http.post(f"{url}/runs", json={"experiment_id": "0"}).json()["run"]["info"][
            "run_id"
        ]
        body = {
            "metrics": [
                {"key": "m", "value": "NaN", "timestamp": 5, "step": 0},
                {"key": "m", "value": 2, "step": 1},
            ],
            "params": [{"key": "p", "value": "1"}],
            "tags": {"t": "x"},
        }
        for _ in range(2):
            answer = http.post(
                f"{url}/runs/{run_id}/batch", json=body, headers={"Idempotency-Key": "k1"}
            )
            assert answer.json() == {"points": 2, "params": 1, "tags": 1}
        history = http.get(f"{url}/runs/{run_id}/metrics/history", params={"key": "m"}).json()
        assert history["values"] == ["NaN", 2.0]
        assert history["steps"] == [0, 1]


def test_integer_values_beyond_the_double_range_are_400(live_server: LiveServer) -> None:
    huge = "1" + "0" * 400  # valid JSON, but no double can hold it
    with httpx.Client(base_url=live_server.url) as http:
        run_id = http.post(f"{V1}/runs", json={"experiment_id": "0"}).json()["run"]["info"][
            "run_id"
        ]
        point = f'{{"key": "m", "value": {huge}, "timestamp": 1, "step": 0}}'
        bodies = {
            f"{V1}/runs/{run_id}/batch": f'{{"metrics": [{point}]}}',
            "/api/2.0/mlflow/runs/log-batch": f'{{"run_id": "{run_id}", "metrics": [{point}]}}',
            "/api/2.0/mlflow/runs/log-metric": (
                f'{{"run_id": "{run_id}", "key": "m", "value": {huge}, "timestamp": 1}}'
            ),
        }
        for path, body in bodies.items():
            answer = http.post(path, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
        history = http.get(f"{V1}/runs/{run_id}/metrics/history", params={"key": "m"}).json()
        assert history.get("steps", []) == []
    assert "Traceback" not in live_server.log()


def test_body_limit_content_length_and_chunked(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(env={"MLTRAIL_MAX_REQUEST_BYTES": "20000"})
    url = f"{server.url}{V1}/experiments"
    big = json.dumps({"name": "x" * 30_000}).encode()
    with httpx.Client() as http:
        _error(
            http.post(url, content=big, headers={"content-type": "application/json"}),
            413,
            "REQUEST_LIMIT_EXCEEDED",
        )
        chunked = http.post(
            url,
            content=iter([big[:10_000], big[10_000:]]),
            headers={"content-type": "application/json"},
        )
        _error(chunked, 413, "REQUEST_LIMIT_EXCEEDED")
        run_id = http.post(f"{server.url}{V1}/runs", json={"experiment_id": "0"}).json()["run"][
            "info"
        ]["run_id"]
        batch = http.post(
            f"{server.url}{V1}/runs/{run_id}/batch",
            content=iter([big[:15_000], big[15_000:]]),
            headers={"content-type": "application/json"},
        )
        _error(batch, 413, "REQUEST_LIMIT_EXCEEDED")
        # Artifact uploads stream to storage and are not bound by the request limit.
        put = http.put(f"{server.url}{V1}/artifacts/0/big.bin", content=b"z" * 50_000)
        assert put.status_code == 200, put.text
        assert http.get(f"{server.url}/health").text == "OK"
    assert " 500 " not in server.log()


def test_health_version_metrics(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as http:
        assert http.get("/health").text == "OK"
        version = http.get("/version").text
        import mltrail

        assert version == mltrail.__version__
        http.get(f"{V1}/runs/{'0' * 32}")
        http.get(f"{V1}/runs/{'1' * 32}")
        text = http.get("/metrics").text
    assert (
        'mltrail_http_requests_total{method="GET",route="/api/v1/runs/{run_id}",status="404"} 2.0'
        in text
    )
    assert (
        'mltrail_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/health"}'
        in text
    )
    assert "# TYPE mltrail_http_request_duration_seconds histogram" in text


@pytest.mark.postgres
def test_database_down_is_503(server_factory, postgres_uri: str) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(store=postgres_uri)
    api = server.backend()
    api.create_experiment("before")
    assert httpx.get(f"{server.url}/health").text == "OK"
    from sqlalchemy import create_engine, text

    base, name = postgres_uri.rsplit("/", 1)
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
    # The process is alive (liveness), but not ready to serve (readiness).
    assert httpx.get(f"{server.url}/health").text == "OK"
    ready = httpx.get(f"{server.url}/ready")
    assert ready.status_code == 503
    assert ready.json()["database"] == "unavailable"
    assert name not in ready.text
    answer = httpx.get(f"{server.url}{V1}/experiments/1")
    _error(answer, 503, "TEMPORARILY_UNAVAILABLE")
    assert " 500 " not in server.log()


def test_static_prefix(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(prefix="/mltrail")
    assert server.url.endswith("/mltrail")
    api = server.backend()
    exp_id = api.create_experiment("prefixed")
    assert api.get_experiment(exp_id).name == "prefixed"
    root = server.url.removesuffix("/mltrail")
    assert httpx.get(f"{root}/health").status_code == 404
    assert httpx.get(f"{root}/mltrail-x/health").status_code == 404
    assert httpx.get(f"{server.url}/api/v1/openapi.json").status_code == 200


def test_bad_static_prefix_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mltrail.cli.main",
            "server",
            "--no-auth",
            "--static-prefix",
            "nope/",
            "--backend-store-uri",
            str(tmp_path / "s"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "--static-prefix" in result.stderr


def test_ui_refuses_public_host(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mltrail.cli.main", "ui", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "loopback" in result.stderr


def test_allowed_hosts(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(args=["--allowed-hosts", "127.0.0.1,*.example.com"])
    assert httpx.get(f"{server.url}/health").text == "OK"
    ok = httpx.get(f"{server.url}/health", headers={"Host": "tracking.example.com:5000"})
    assert ok.status_code == 200
    _error(
        httpx.get(f"{server.url}/health", headers={"Host": "evil.test"}), 403, "PERMISSION_DENIED"
    )


def test_cors_only_for_listed_origins(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(args=["--cors-allowed-origins", "https://dash.example.com"])
    preflight = {"Access-Control-Request-Method": "POST"}
    good = httpx.options(
        f"{server.url}{V1}/experiments", headers={"Origin": "https://dash.example.com", **preflight}
    )
    assert good.headers.get("access-control-allow-origin") == "https://dash.example.com"
    bad = httpx.get(f"{server.url}/health", headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in bad.headers


def test_openapi_lists_v1_routes(live_server: LiveServer) -> None:
    schema = httpx.get(f"{live_server.url}{V1}/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/v1/experiments",
        "/api/v1/experiments/{experiment_id}",
        "/api/v1/runs/{run_id}",
        "/api/v1/runs/{run_id}/batch",
        "/api/v1/runs/{run_id}/metrics/history",
        "/api/v1/artifacts/{path}",
    ):
        assert path in paths, path
    assert "BatchIn" in schema["components"]["schemas"]
    assert httpx.get(f"{live_server.url}/docs").status_code == 404


def test_sigterm_finishes_in_flight_requests_and_exits_0(live_server: LiveServer) -> None:
    api = live_server.backend()
    run_id = api.create_run(api.create_experiment("term")).info.run_id
    body = {"metrics": {"m": {"values": [0.5] * 100_000, "steps": list(range(100_000))}}}
    results: list[int] = []

    def send() -> None:
        results.append(
            httpx.post(
                f"{live_server.url}{V1}/runs/{run_id}/batch", json=body, timeout=60
            ).status_code
        )

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.3)
    code = live_server.stop(signal.SIGTERM)
    sender.join()
    assert code == 0, live_server.log()
    assert results == [200]


def test_two_workers_on_one_sqlite_file(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(args=["--workers", "2"])
    api = server.backend()
    exp_id = api.create_experiment("multi")
    run_ids = [api.create_run(exp_id).info.run_id for _ in range(10)]
    for i, run_id in enumerate(run_ids):
        api.log_batch(run_id, metrics=columns_of([]), params=[])
        from mltrail.entities import Metric

        api.log_batch(run_id, metrics=columns_of([Metric("m", float(i), 1, s) for s in range(50)]))
    # Fresh connections land on either worker; every answer is the same.
    for _ in range(10):
        with httpx.Client(base_url=server.url) as http:
            found = http.post(f"{V1}/runs/search", json={"experiment_ids": [exp_id]}).json()["runs"]
            assert len(found) == 10
    for run_id in run_ids:
        assert len(api.get_metric_history(run_id, key="m")) == 50
    # Whichever worker answers the scrape, /metrics counts the searches of both.
    searches = 'mltrail_http_requests_total{method="POST",route="/api/v1/runs/search",status="200"}'
    for _ in range(6):
        with httpx.Client(base_url=server.url) as http:
            lines = http.get("/metrics").text.splitlines()
        assert f"{searches} 10.0" in lines, [line for line in lines if "search" in line]

    # Kept-alive requests must not pay Nagle/delayed-ACK delays with several workers.
    timings = []
    with httpx.Client(base_url=server.url) as http:
        for _ in range(100):
            start = time.perf_counter()
            assert http.get("/health").status_code == 200
            timings.append(time.perf_counter() - start)
    p50_ms = statistics.median(timings) * 1000
    print(f"p50 GET /health with 2 workers: {p50_ms:.2f} ms")
    assert p50_ms < 30, f"p50 {p50_ms:.1f} ms: the ~40 ms delayed-ACK stall is back"
    assert server.stop() == 0


@pytest.mark.parametrize("uri_kind", ["sqlite", "file"])
def test_backend_store_uri_forms(server_factory, tmp_path: Path, uri_kind: str) -> None:  # type: ignore[no-untyped-def]
    store = tmp_path / "forms"
    uri = f"sqlite:///{store}.db" if uri_kind == "sqlite" else (tmp_path / "forms").as_uri()
    server = server_factory(store=uri)
    assert server.backend().create_experiment("x") == "1"


def test_mlflow_adapter_is_mounted_and_its_uploads_stream(server_factory) -> None:  # type: ignore[no-untyped-def]
    server = server_factory(env={"MLTRAIL_MAX_REQUEST_BYTES": "10000"})
    with httpx.Client(base_url=server.url) as http:
        got = http.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert got.status_code == 200, got.text
        assert got.json()["experiment"]["name"] == "Default"
        put = http.put("/api/2.0/mlflow-artifacts/artifacts/0/big.bin", content=b"y" * 50_000)
        assert put.status_code == 200, put.text
        back = http.get(f"{V1}/artifacts/0/big.bin")
        assert back.content == b"y" * 50_000
        _error(
            http.post("/api/2.0/mlflow/experiments/create", content=b"{" + b" " * 20_000 + b"}"),
            413,
            "REQUEST_LIMIT_EXCEEDED",
        )
