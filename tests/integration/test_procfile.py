"""Each Procfile process really starts against PostgreSQL and Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from newsletter.queues import Queue

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, command = line.split(":", 1)
            entries[name.strip()] = command.strip()
    return entries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Run a Procfile line the way foreman and honcho do: through sh, venv on PATH."""
    env = {**env, "PATH": f"{ROOT / '.venv' / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"}
    with log.open("wb") as out:
        return subprocess.Popen(
            ["sh", "-c", f"exec {procfile()[name]}"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(check, process, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if check():
            return
        time.sleep(0.3)
    pytest.fail(f"process did not become ready:\n{log.read_text()[-3000:]}")


def test_the_procfile_declares_release_web_worker_and_beat():
    assert set(procfile()) >= {"release", "web", "worker", "beat"}
    # Migrations run once per release, never by each web replica as it starts.
    assert procfile()["release"] == "newsletter db upgrade"


def test_the_worker_line_consumes_every_queue_of_the_registry():
    consumed = procfile()["worker"].split("-Q ", 1)[1].split()[0].split(",")
    assert sorted(consumed) == sorted(queue.value for queue in Queue)


def test_web_serves_healthz(worker_env, tmp_path):
    port = free_port()
    env = {**worker_env, "PORT": str(port)}
    log = tmp_path / "web.log"
    process = start("web", env, log)
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(healthy, process, log)
    finally:
        stop(process)


def test_worker_becomes_ready_on_all_queues(worker_env, tmp_path):
    log = tmp_path / "worker.log"
    process = start("worker", worker_env, log)
    try:
        wait_until(lambda: b" ready." in log.read_bytes(), process, log)
        text = log.read_text()
        for queue in Queue:
            assert f".> {queue}" in text
    finally:
        stop(process)


def test_the_mail_worker_serves_only_the_transactional_queue(worker_env, tmp_path):
    log = tmp_path / "mail.log"
    process = start("mail", worker_env, log)
    try:
        wait_until(lambda: b" ready." in log.read_bytes(), process, log)
        text = log.read_text()
        assert ".> transactional" in text and ".> send" not in text
    finally:
        stop(process)


def test_beat_starts_with_the_schedule_and_keeps_running(worker_env, tmp_path):
    log = tmp_path / "beat.log"
    env = {**worker_env, "NEWSLETTER_BEAT_SCHEDULE": str(tmp_path / "beat-schedule")}
    process = start("beat", env, log)
    try:
        wait_until(lambda: b"beat: Starting..." in log.read_bytes(), process, log)
        time.sleep(2)
        assert process.poll() is None, log.read_text()
        assert list(tmp_path.glob("beat-schedule*")), "beat keeps its state where configured"
    finally:
        stop(process)
