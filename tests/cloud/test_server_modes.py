"""A real `mltrail server` on a bucket (S3 on moto, an Azure container on Azurite): direct mode,
proxied mode, and gc of both."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from mltrail.cli.main import cli
from mltrail.client.tracking_client import TrackingClient

from .conftest import Bucket, new_bucket, start_bucket_server

MIB = 1024 * 1024


@pytest.fixture(params=["s3", "az"])
def bucket(request: pytest.FixtureRequest) -> Bucket:
    return new_bucket(request.param, request)


def _no_cloud_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("AWS_", "AZURE_", "MLTRAIL_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))


def _gc(*args: str) -> str:
    result = CliRunner().invoke(cli, ["gc", *args], catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return result.stdout


def test_direct_mode_clients_write_to_the_bucket(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with start_bucket_server(
        ["--no-serve-artifacts", "--default-artifact-root", f"{bucket.url}/root"],
        tmp_path=tmp_path,
        env=bucket.env,
    ) as server:
        # The client writes with its own credentials, found where the cloud's tools look for
        # them (AWS_* variables, AZURE_STORAGE_CONNECTION_STRING).
        _no_cloud_credentials(monkeypatch, tmp_path)
        for name, value in bucket.env.items():
            monkeypatch.setenv(name, value)
        client = TrackingClient(server.url)
        exp = client.create_experiment("direct")
        run = client.create_run(exp)
        run_id = run.info.run_id
        assert run.info.artifact_uri == f"{bucket.url}/root/{exp}/{run_id}/artifacts"
        model = tmp_path / "model.bin"
        model.write_bytes(os.urandom(6 * MIB))
        client.log_artifact(run_id, model, "model")
        client.log_text(run_id, "hi", "notes/readme.txt")

        prefix = f"root/{exp}/{run_id}/artifacts"
        assert bucket.keys() == [f"{prefix}/model/model.bin", f"{prefix}/notes/readme.txt"]
        assert [f.path for f in client.list_artifacts(run_id)] == ["model", "notes"]
        local = client.download_artifacts(run_id, "model/model.bin", tmp_path / "dl")
        assert Path(local).read_bytes() == model.read_bytes()

        client.delete_run(run_id)
        out = _gc("--backend-store-uri", server.db_uri)
        assert f"Removed artifacts {bucket.url}/{prefix}" in out
        assert bucket.keys() == []


def test_proxied_mode_clients_need_no_cloud_credentials(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    destination = f"{bucket.url}/dest"
    with start_bucket_server(
        ["--artifacts-destination", destination], tmp_path=tmp_path, env=bucket.env
    ) as server:
        _no_cloud_credentials(monkeypatch, tmp_path)
        client = TrackingClient(server.url)
        exp = client.create_experiment("proxied")
        run_id = client.create_run(exp).info.run_id
        assert client.get_run(run_id).info.artifact_uri.startswith("mlflow-artifacts:/")
        src = tmp_path / "src"
        (src / "data").mkdir(parents=True)
        big = os.urandom(7 * MIB + 5)
        (src / "data" / "big.bin").write_bytes(big)
        (src / "config.yaml").write_text("a: 1\n")
        client.log_artifacts(run_id, src, "bundle")

        prefix = f"dest/{exp}/{run_id}/artifacts/bundle"
        assert bucket.keys() == [f"{prefix}/config.yaml", f"{prefix}/data/big.bin"]
        dst = Path(client.download_artifacts(run_id, "bundle", tmp_path / "dl"))
        got = (dst / "data" / "big.bin").read_bytes()
        assert hashlib.sha256(got).digest() == hashlib.sha256(big).digest()
        assert (dst / "config.yaml").read_text() == "a: 1\n"

        listed = CliRunner().invoke(
            cli, ["--tracking-uri", server.url, "artifacts", "list", "-r", run_id, "bundle/data"]
        )
        assert listed.exit_code == 0, listed.output
        assert "bundle/data/big.bin" in listed.stdout and str(len(big)) in listed.stdout

        client.delete_run(run_id)
        # gc runs where the server runs: with the bucket's credentials.
        for name, value in bucket.env.items():
            monkeypatch.setenv(name, value)
        dry = _gc("--backend-store-uri", server.db_uri, "--artifacts-destination",
                  destination, "--dry-run")  # fmt: skip
        assert f"Would remove run {run_id}" in dry
        assert len(bucket.keys()) == 2
        out = _gc("--backend-store-uri", server.db_uri, "--artifacts-destination", destination)
        assert f"Removed artifacts mlflow-artifacts:/{exp}/{run_id}/artifacts" in out
        assert bucket.keys() == []


@pytest.mark.parametrize("cloud", ["gs", "s3"])
def test_mlflows_own_command_line_puts_artifacts_in_the_bucket(
    cloud: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mlflow server --backend-store-uri sqlite:///mltrail.db --default-artifact-root
    gs://bucket`, as a set-up guide writes it: the bucket receives the files (through the
    proxy, so clients need no cloud keys) and the start-up banner says where they go."""
    bucket = new_bucket(cloud, request)
    args = ["--default-artifact-root", bucket.url]
    with start_bucket_server(args, tmp_path=tmp_path, env=bucket.env) as server:
        _no_cloud_credentials(monkeypatch, tmp_path)
        assert f"Artifacts: proxied to {bucket.url} (clients need no credentials)" in server.log()
        client = TrackingClient(server.url)
        exp = client.create_experiment("guide")
        run_id = client.create_run(exp).info.run_id
        client.log_text(run_id, "weights", "model/model.bin")
        client.log_text(run_id, "flavors: {}\n", "model/MLmodel")
        # Exactly where MLflow's server would have written them.
        prefix = f"{exp}/{run_id}/artifacts"
        assert bucket.keys() == [f"{prefix}/model/MLmodel", f"{prefix}/model/model.bin"]
        assert not (tmp_path / "mlartifacts").exists()
        local = Path(client.download_artifacts(run_id, "model/model.bin", tmp_path / "dl"))
        assert local.read_text() == "weights"


def test_the_banner_says_when_clients_write_directly(tmp_path: Path) -> None:
    from mltrail.composition import describe_artifacts
    from mltrail.config import Settings

    store = f"sqlite:///{tmp_path / 'x.db'}"
    direct = Settings(backend_store_uri=store, serve_artifacts=False,
                      default_artifact_root="s3://b/root")  # fmt: skip
    assert describe_artifacts(direct) == (
        "clients write directly to s3://b/root (they need credentials for it)"
    )
    both = Settings(backend_store_uri=store, default_artifact_root="s3://b/root",
                    artifacts_destination=str(tmp_path / "served"))  # fmt: skip
    assert describe_artifacts(both).startswith("new experiments at s3://b/root: clients write")
