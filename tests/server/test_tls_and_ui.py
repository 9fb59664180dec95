"""TLS with a CA bundle on the client side, and ``mltrail ui`` on a local folder store."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mltrail.client.rest import RestBackend
from mltrail.config import Settings
from mltrail.errors import ConnectionFailed

from .conftest import free_port


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def test_https_with_ca_bundle(server_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cert, key = _self_signed(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mltrail.cli.main",
            "server",
            "--no-auth",
            "--port",
            str(port),
            "--backend-store-uri",
            str(tmp_path / "store"),
            "--ssl-certfile",
            str(cert),
            "--ssl-keyfile",
            str(key),
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", verify=False).text == "OK":
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        trusted = RestBackend(url, settings=Settings(tracking_server_cert_path=str(cert)))
        assert trusted.create_experiment("tls") == "1"
        insecure = RestBackend(url, settings=Settings(tracking_insecure_tls=True))
        assert insecure.get_experiment("1").name == "tls"
        untrusted = RestBackend(url, settings=Settings(http_max_retries=0))
        with pytest.raises(ConnectionFailed):
            untrusted.get_experiment("1")
        for backend in (trusted, insecure, untrusted):
            backend.close()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_ui_serves_the_local_folder_store(tmp_path: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "mltrail.cli.main", "ui", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").text == "OK":
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        assert (tmp_path / "mltrail" / "mltrail.db").is_file()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
