"""deploy/: the alert rules and the Grafana dashboard name only metrics /metrics has."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "newsletter.json"
METRIC = re.compile(r"\bnewsletter_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gauge": ("",),
}


def rule_expressions() -> list[str]:
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule["expr"] for group in document["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in document["panels"] for target in panel["targets"]]


def exposed_names(text: str) -> set[str]:
    """Every series name the page declares, from its TYPE lines (with or without samples)."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            base = name.removesuffix("_total")
            names.add(name)
            names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def test_every_alert_has_a_name_an_expression_and_a_summary():
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert len(rules) >= 8
    for rule in rules:
        assert rule["alert"].startswith("Newsletter") and rule["expr"].strip()
        assert rule["annotations"]["summary"]


def test_every_metric_the_rules_and_dashboard_name_exists_in_the_metrics_page(client: TestClient):
    exposed = exposed_names(client.get("/metrics").text)
    named = {
        m for expr in rule_expressions() + dashboard_expressions() for m in METRIC.findall(expr)
    }
    assert len(named) >= 10
    missing = sorted(named - exposed)
    assert not missing, f"named in deploy/ but not in /metrics: {missing}"


def test_the_dashboard_panels_have_unique_ids_and_a_prometheus_datasource():
    document = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))
    assert all(panel["datasource"]["type"] == "prometheus" for panel in document["panels"])
