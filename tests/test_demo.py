"""`newsletter demo` on the embedded default, as a newcomer runs it."""

from __future__ import annotations

import email
import os
import subprocess
from email import policy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_demo(cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSLETTER_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "newsletter"), "demo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_the_demo_writes_one_email_per_reader_and_never_sends_an_edition_twice(tmp_path):
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stderr
    outbox = tmp_path / "outbox"
    emls = sorted(outbox.glob("*.eml"))
    htmls = sorted(outbox.glob("*.html"))
    assert len(emls) == 5
    assert len(htmls) == 5
    assert "emails: 5 sent this run" in first.stdout
    assert str(outbox) in first.stdout
    # It ends by saying how to see the site on the same data.
    assert "run `newsletter web`, then open http://127.0.0.1:8000/" in first.stdout.splitlines()[-1]
    for path in emls:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message.get_content_type() == "multipart/alternative"
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "never sent twice" in second.stdout
    assert sorted(outbox.glob("*.eml")) == emls


def test_each_demo_email_names_the_readers_own_next_send_hour(tmp_path):
    """The demo sends at once, yet each email's "next digest" line keeps the reader's hour."""
    from newsletter.demo import DEMO_READERS

    assert run_demo(tmp_path).returncode == 0
    for address, prefs in DEMO_READERS:
        [path] = (tmp_path / "outbox").glob(f"*-{address}.eml")
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        text = message.get_body(("plain",)).get_content()
        assert f"{prefs.send_hour:02d}:00 ({prefs.timezone})" in " ".join(text.split())
