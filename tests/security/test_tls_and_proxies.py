"""HTTPS served directly (a certificate made in the test) with authentication and the mltrail
client, and forwarded headers honoured only from the configured proxies."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from mltrail.config import Settings
from mltrail.server.runner import _uvicorn_options

from .conftest import PASSWORDS, _free_port, start_auth_server


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (usable as the client's CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mltrail test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An auth server on HTTPS: users are made by the shared helper, then it is restarted on TLS."""
    tmp = tmp_path_factory.mktemp("tls")
    server, proc = start_auth_server(tmp)
    proc.terminate()
    proc.wait(timeout=15)
    cert, key = _self_signed(tmp)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLTRAIL_")}
    command = [
        sys.executable, "-m", "mltrail", "server", "--port", str(port),
        "--backend-store-uri", server.db_uri, "--artifacts-destination", str(tmp / "artifacts"),
        "--ssl-certfile", str(cert), "--ssl-keyfile", str(key),
    ]  # fmt: skip
    log = (tmp / "tls.log").open("wb")
    proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp / "tls.log").read_text()
            try:
                if httpx.get(f"{url}/health", verify=_trusting(cert), timeout=1).text == "OK":
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, (tmp / "tls.log").read_text()
                time.sleep(0.1)
        yield url, cert
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        finally:
            proc.kill()
            log.close()


CLIENT_SCRIPT = textwrap.dedent(
    """
    import mltrail
    mltrail.set_experiment("over-tls")
    with mltrail.start_run(run_name="tls-run") as run:
        mltrail.log_param("p", "1")
        for step in range(5):
            mltrail.log_metric("loss", 1.0 / (step + 1), step=step)
        mltrail.log_text("hello over tls", "note.txt")
    mltrail.flush()
    print(run.info.run_id)
    """
)


def test_mltrail_client_logs_over_https_with_a_ca_bundle(
    https_server: tuple[str, Path], tmp_path: Path
) -> None:
    url, cert = https_server
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLTRAIL_", "MLFLOW_"))}
    env.update(
        MLTRAIL_TRACKING_URI=url,
        MLTRAIL_TRACKING_USERNAME="alice",
        MLTRAIL_TRACKING_PASSWORD=PASSWORDS["alice"],
        MLTRAIL_TRACKING_SERVER_CERT_PATH=str(cert),
        MLTRAIL_SPOOL_DIR=str(tmp_path / "spool"),
        MLTRAIL_HTTP_MAX_RETRIES="1",
    )
    done = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT], env=env, cwd=tmp_path, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    alice = httpx.Client(base_url=url, verify=_trusting(cert), auth=("alice", PASSWORDS["alice"]))
    history = alice.get(
        "/api/2.0/mlflow/metrics/get-history", params={"run_id": run_id, "metric_key": "loss"}
    ).json()["metrics"]
    assert [m["step"] for m in history] == [0, 1, 2, 3, 4]
    run = alice.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id}).json()["run"]
    exp = run["info"]["experiment_id"]
    note = alice.get(f"/api/2.0/mlflow-artifacts/artifacts/{exp}/{run_id}/artifacts/note.txt")
    assert note.content == b"hello over tls"
    # Without the CA bundle the client refuses the server's certificate.
    env.pop("MLTRAIL_TRACKING_SERVER_CERT_PATH")
    env["MLTRAIL_HTTP_MAX_RETRIES"] = "0"
    refused = subprocess.run(
        [sys.executable, "-c", "import mltrail; mltrail.set_synchronous(True); mltrail.get_experiment('0')"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0 and "certificate" in refused.stderr.lower()
    # Over TLS the browser cookies are Secure.
    alice.close()
    browser = httpx.Client(base_url=url, verify=_trusting(cert))
    browser.get("/login", headers={"Accept": "text/html"})
    signed_in = browser.post(
        "/login",
        data={
            "csrf_token": browser.cookies["mltrail_csrf"],
            "username": "alice",
            "password": PASSWORDS["alice"],
        },
    )
    assert signed_in.status_code == 303
    browser.close()
    assert "secure" in signed_in.headers["set-cookie"].lower()


def test_runner_passes_the_proxy_setting_to_uvicorn() -> None:
    options = _uvicorn_options(Settings(forwarded_allow_ips=("10.0.0.5", "10.0.0.6")))
    assert options["forwarded_allow_ips"] == ["10.0.0.5", "10.0.0.6"]
    assert options.get("proxy_headers", True) is True
    assert "forwarded_allow_ips" not in _uvicorn_options(Settings())


def _failed_logins(url: str, count: int) -> list[int]:
    """``count`` failed logins, each for another user name from another claimed address."""
    statuses = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            answer = client.get(
                "/api/v1/users/me",
                auth=(f"nobody{i}", "wrong-password-123"),
                headers={"X-Forwarded-For": f"203.0.113.{i % 250 + 1}"},
            )
            statuses.append(answer.status_code)
    return statuses


@pytest.mark.parametrize("trusted", [False, True])
def test_forwarded_for_only_from_configured_proxies(tmp_path: Path, trusted: bool) -> None:
    # The test client connects from 127.0.0.1: trusted as a proxy, or not (another address
    # is configured).
    proxies = "127.0.0.1" if trusted else "10.9.9.9"
    server, proc = start_auth_server(tmp_path, extra_env={"MLTRAIL_FORWARDED_ALLOW_IPS": proxies})
    try:
        statuses = _failed_logins(server.url, 51)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    log = server.log_path.read_text()
    if trusted:
        # Each failure counts against the address the proxy reported: none reaches 50.
        assert set(statuses) == {401}
        assert "address=203.0.113.7" in log
    else:
        # The header is ignored: all failures count against the real peer, 127.0.0.1.
        assert statuses[:50] == [401] * 50 and statuses[50] == 429
        assert "address=203.0.113." not in log and "address=127.0.0.1" in log
