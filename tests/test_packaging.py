"""The wheel, as `pip install .` gets it: every data file inside, and it runs on its own.

The wheel is built offline with this environment's setuptools (the dev extra pins a
version that knows the SPDX licence form), installed with `pip install --target` into an
empty folder, and run from another folder with only that folder on PYTHONPATH: the demo
sends its digests, and every other email and the pages that show one render from the
installed package's templates, not the checkout's.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from email import policy
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("newsletter", "workers")
# What a checkout has that the build must not see (it would only slow the copy).
NOT_SOURCE = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", "*.pyc", "build", "dist", "*.egg-info", "outbox", "*.db*"
)


@dataclass(frozen=True)
class Built:
    wheel: Path
    build_log: str
    target: Path


def run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """Build the wheel from a copy of the checkout, then install it into an empty folder."""
    setuptools = version("setuptools")
    if int(setuptools.split(".")[0]) < 77:
        pytest.fail(f"setuptools {setuptools} is too old to build offline: run `make install`")
    base = tmp_path_factory.mktemp("packaging")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    wheels = base / "wheels"
    # -v: pip shows the build backend's own output, deprecation warnings included.
    pip_wheel = ["pip", "wheel", "-v", "--no-deps", "--no-build-isolation", "-w", str(wheels)]
    log = run([sys.executable, "-m", *pip_wheel, "."], cwd=source)
    [wheel] = wheels.glob("paper_newsletter-*.whl")
    target = base / "installed"
    run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        base,
    )
    return Built(wheel, log, target)


def source_data_files() -> set[str]:
    """Every file of the packages that is not Python source: templates, JSON, migrations."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_wheel_carries_every_file_of_the_packages(built):
    names = set(zipfile.ZipFile(built.wheel).namelist())
    assert source_data_files() - names == set()
    for kind in ("digest", "confirm", "welcome", "goodbye"):
        assert f"newsletter/templates/email/{kind}.html" in names
        assert f"newsletter/templates/email/{kind}.txt" in names
    assert "newsletter/templates/email/view_error.html" in names
    assert "newsletter/web/templates/signup.html" in names
    assert "newsletter/data/sample_papers.json" in names
    assert "newsletter/migrations/script.py.mako" in names
    assert any(re.fullmatch(r"newsletter/migrations/versions/0001_.*\.py", n) for n in names)
    assert not any(n.startswith(("tests/", "bench/", "templates/")) for n in names)


def test_building_the_wheel_prints_no_setuptools_deprecation(built):
    assert "Deprecat" not in built.build_log, built.build_log


# Run inside the installed copy after the demo: the emails the demo does not send, and
# the pages that show an email (the digest in a browser, a broken view link).
AFTER_DEMO = """
import json, sys
from fastapi.testclient import TestClient
from sqlalchemy import select

import newsletter
from newsletter.db import session_scope
from newsletter.models import Subscriber
from newsletter.subscriptions.mail import queue_mail
from newsletter.web.app import create_app

with session_scope() as session:
    subscriber = session.scalars(select(Subscriber).order_by(Subscriber.id)).first()
    subscriber_id = subscriber.id
# Sent in-process on the embedded default; True once the email went out.
sent = [queue_mail(name, subscriber_id) for name in ("confirm", "welcome", "goodbye", "links")]
with TestClient(create_app()) as client:
    pages = {path: client.get(path) for path in ("/", sys.argv[1], "/digest/not-a-token")}
print(json.dumps({
    "module": newsletter.__file__,
    "sent": sent,
    "pages": {path: [page.status_code, page.text] for path, page in pages.items()},
}))
"""


def test_the_installed_wheel_runs_the_demo_and_renders_every_email_from_another_folder(
    built, tmp_path
):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NEWSLETTER_") and k not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        PYTHONPATH=str(built.target),
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.db'}",
        NEWSLETTER_OUTBOX=str(tmp_path / "outbox"),
        NEWSLETTER_MAIL_BACKEND="file",
    )
    where = run(
        [sys.executable, "-c", "import newsletter; print(newsletter.__file__)"], tmp_path, env
    )
    assert where.strip() == str(built.target / "newsletter" / "__init__.py")

    demo = run([sys.executable, "-m", "newsletter.cli", "demo"], tmp_path, env)
    assert "emails: 5 sent this run" in demo
    digests = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(digests) == 5
    view_url = ""
    for path in digests:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message["Subject"].endswith(" more")  # the top pick's title "+N more"
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "<table" in html and "unsubscribe" in text.lower()
        view_url = re.search(r'href="[^"]*(/digest/[^"]+)"', html).group(1)  # type: ignore[union-attr]

    report = json.loads(run([sys.executable, "-c", AFTER_DEMO, view_url], tmp_path, env))
    assert report["module"] == str(built.target / "newsletter" / "__init__.py")
    assert report["sent"] == [True, True, True, True]
    subjects = {
        email.message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"]
        for p in (tmp_path / "outbox").glob("*.eml")
        if p not in digests
    }
    assert subjects == {
        "Confirm your subscription to trending papers",
        "Welcome to your trending-papers digest",
        "You're unsubscribed",
        "Your trending-papers preferences link",
    }
    signup, digest_page, broken = (
        report["pages"][p] for p in ("/", view_url, "/digest/not-a-token")
    )
    assert signup[0] == 200 and "<form" in signup[1]
    assert digest_page[0] == 200 and "Trending papers" in digest_page[1]
    assert broken[0] in {400, 404} and "<html" in broken[1].lower()
