"""A deployment from the wheel works: templates, static files, migrations and
the compiled Dutch catalogue travel inside the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SMOKE = textwrap.dedent("""
    import os, sys
    import consentflow
    assert consentflow.__file__.startswith(sys.argv[1]), consentflow.__file__
    from flask_migrate import upgrade
    from consentflow import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///" + sys.argv[2] + "/w.db",
                      "QUEUE_BACKEND": "memory", "SESSION_COOKIE_SECURE": False})
    with app.app_context():
        upgrade()
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200, page.status_code
    assert "Inloggen" in page.get_data(as_text=True)
    css = client.get("/static/app.css")
    assert css.status_code == 200 and len(css.data) > 100
    print("wheel-ok")
""")


@pytest.mark.slow
def test_wheel_carries_everything_a_deployment_needs(tmp_path: Path) -> None:
    # Built from a copy of the sources: setuptools writes build/ and *.egg-info
    # next to pyproject.toml, and make test runs the suite twice at once.
    source = tmp_path / "src"
    shutil.copytree(ROOT / "consentflow", source / "consentflow",
                    ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "compile", "-d",
                    str(source / "consentflow" / "translations")], check=True, capture_output=True)
    out = tmp_path / "dist"
    # The PEP 517 backend the project declares, called as a build front-end would.
    build = f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"
    subprocess.run([sys.executable, "-c", build], check=True, capture_output=True, cwd=source)
    wheel = next(out.glob("consentflow-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for needed in ("consentflow/templates/base.html", "consentflow/static/app.css",
                   "consentflow/migrations/env.py", "consentflow/migrations/versions/0001_initial_schema.py",
                   "consentflow/translations/nl/LC_MESSAGES/messages.mo"):
        assert needed in names, needed
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    instance = tmp_path / "instance"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONSENTFLOW_")}
    env.update(PYTHONPATH=str(site), CONSENTFLOW_INSTANCE_PATH=str(instance),
               CONSENTFLOW_SECRET_KEY="w" * 48)
    run = subprocess.run([sys.executable, "-c", SMOKE, str(site), str(tmp_path)], env=env,
                         cwd=tmp_path, capture_output=True, text=True)
    assert "wheel-ok" in run.stdout, run.stderr[-3000:]
