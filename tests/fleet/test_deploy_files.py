"""The deployment files (deploy/) and docs/deploy.md say what the fleet tests run.

Containers cannot run here, so the compose file, the Dockerfile and the systemd unit are
checked for what can be checked: the same commands and options as the tests, options that
`mltrail server` accepts, the nginx configuration the tests load, and a non-root image with
a health check.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import yaml

from fleet.cluster import ROOT, SITE_CONF, replica_args

DEPLOY = ROOT / "deploy"


def _server_options() -> set[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mltrail.cli.main", "server", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return set(re.findall(r"--[a-z][a-z-]+", done.stdout))


def _options(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("--")]


def test_the_docs_show_the_nginx_configuration_the_tests_load() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    assert f"```nginx\n{SITE_CONF.read_text()}```" in doc


def test_compose_runs_the_replicas_and_nginx_as_the_tests_do() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    replicas = [name for name in services if name.startswith("replica")]
    assert len(replicas) == 3
    command = [str(a) for a in services["replica1"]["command"]]
    tested = replica_args(port=5000, backend_store_uri="U", artifacts_destination="D", workers=2)
    assert command[0] == tested[0] == "server"
    assert _options(command) == _options(tested)
    assert set(_options(command)) <= _server_options()
    assert command[command.index("--port") + 1] == "5000"
    # nginx is handed the tests' site configuration and its two include files.
    volumes = services["nginx"]["volumes"]
    assert "./nginx/mltrail.conf:/etc/nginx/conf.d/default.conf:ro" in volumes
    for include in ("mltrail-replicas.conf", "mltrail-listen.conf"):
        assert any(v.endswith(f"/etc/nginx/{include}:ro") for v in volumes)
    upstreams = (DEPLOY / "nginx" / "compose-replicas.conf").read_text()
    assert [f"server {r}:5000" in upstreams for r in replicas] == [True] * 3
    # The replicas trust forwarded headers from nginx's fixed address only.
    nginx_address = services["nginx"]["networks"]["fleet"]["ipv4_address"]
    assert command[command.index("--forwarded-allow-ips") + 1] == nginx_address
    # init: the two commands of tests/fleet/conftest.py:prepare_database.
    init = " ".join(services["init"]["command"])
    assert 'mltrail db upgrade "$$DB"' in init
    assert "mltrail users create admin --admin --password-file -" in init


def test_the_image_is_non_root_with_a_health_check() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/health" in text
    assert re.search(r'^CMD \["server", "--host", "0.0.0.0", "--port", "5000"\]$', text, re.M)
    extras = re.search(r'pip install "/build\[([a-z0-9,]+)\]"', text)
    assert extras is not None
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert set(extras.group(1).split(",")) <= set(project["optional-dependencies"])


def test_the_systemd_unit_uses_options_the_server_accepts() -> None:
    text = (DEPLOY / "systemd" / "mltrail.service").read_text()
    [line] = re.findall(r"^ExecStart=(.+)$", text, re.M)
    args = shlex.split(line)
    assert args[1] == "server"
    assert set(_options(args)) <= _server_options()
    assert re.search(r"^KillSignal=SIGTERM$", text, re.M)
