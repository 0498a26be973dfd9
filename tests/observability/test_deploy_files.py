"""The alert rules and the Grafana dashboard ask only for series the app exports, and the rules
fire as their unit tests say (``promtool``, Debian's ``prometheus`` package)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from newspeech.observability.metrics import Metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "newspeech.json"
SERIES = re.compile(r"\b((?:newspeech|db|http)_[a-z_]+)\b")


def exported() -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(Metrics().exposition().decode()):
        names |= {family.name + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    return names


def alert_expressions() -> list[str]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_deploy_files_ask_only_for_exported_series(source: str) -> None:
    expressions = alert_expressions() if source == "alerts" else dashboard_expressions()
    assert expressions
    asked = {name for expr in expressions for name in SERIES.findall(expr)}
    assert asked
    assert asked - exported() == set()


def test_the_prometheus_config_and_alert_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus; scripts/test does)")
    for args in (
        ["check", "config", "prometheus.yml"],  # and the rule files it names
        ["test", "rules", "alerts.test.yml"],
    ):
        run = subprocess.run(
            [promtool, *args], cwd=ALERTS.parent, capture_output=True, text=True, check=False
        )
        assert run.returncode == 0, run.stdout + run.stderr
