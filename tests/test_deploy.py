"""The docker compose file starts the same processes as the Procfile (CI has no Docker)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def as_run(service: dict[str, Any]) -> str:
    """The line a compose service runs, with compose's `$$` escape read back as `$`."""
    command = service["command"]
    assert command[:2] == ["sh", "-c"] and command[2].startswith("exec "), command
    return str(command[2]).removeprefix("exec ").replace("$$", "$")


def test_every_procfile_process_is_a_compose_service_running_the_same_command():
    compose = services()
    for name, line in procfile().items():
        assert name in compose, f"docker-compose.yml has no service {name!r}"
        assert as_run(compose[name]) == line, name


def test_the_stack_has_its_databases_two_workers_and_exactly_one_beat():
    compose = services()
    assert {"postgres", "redis"} <= set(compose)
    assert compose["worker"]["deploy"]["replicas"] == 2
    assert compose["beat"]["deploy"]["replicas"] == 1


def test_app_services_start_after_the_release_step_migrated_the_database():
    compose = services()
    for name in ("web", "worker", "mail", "beat"):
        after = compose[name]["depends_on"]
        assert after["release"]["condition"] == "service_completed_successfully", name
        assert after["postgres"]["condition"] == "service_healthy", name
        assert "postgresql://" in compose[name]["environment"]["DATABASE_URL"]
        assert compose[name]["environment"]["REDIS_URL"].startswith("redis://")
