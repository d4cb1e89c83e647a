"""Architecture rules from STYLE.md, checked on the source itself.

Pure modules (the face engine, hashing, imaging, redaction, decision rules)
import neither Flask nor SQLAlchemy nor the models; services never read
request globals.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "consentflow"

PURE = [
    *sorted((PACKAGE / "faces").glob("*.py")),
    PACKAGE / "audit" / "chain.py",
    PACKAGE / "photos" / "imaging.py",
    PACKAGE / "photos" / "decisions.py",
    PACKAGE / "publish" / "redact.py",
]
FORBIDDEN_IN_PURE = ("flask", "flask_sqlalchemy", "sqlalchemy", "consentflow.models", "consentflow.extensions")
REQUEST_GLOBALS = {"request", "session", "g", "current_user", "flash", "current_app"}


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


@pytest.mark.parametrize("path", [p for p in PURE if p.exists()], ids=lambda p: str(p.relative_to(PACKAGE)))
def test_pure_modules_stay_pure(path: Path) -> None:
    for module, _names in _imports(path):
        assert not any(module == f or module.startswith(f + ".") for f in FORBIDDEN_IN_PURE), (
            f"{path.name} imports {module}"
        )


def test_there_are_pure_modules_to_check() -> None:
    assert (PACKAGE / "audit" / "chain.py").exists() and sum(p.exists() for p in PURE) >= 1


@pytest.mark.parametrize(
    "path", sorted(PACKAGE.glob("*/service.py")), ids=lambda p: str(p.relative_to(PACKAGE))
)
def test_services_do_not_read_request_globals(path: Path) -> None:
    for module, names in _imports(path):
        if module in ("flask", "flask_login"):
            leaked = REQUEST_GLOBALS & set(names)
            assert not leaked, f"{path.relative_to(PACKAGE)} imports {leaked} from {module}"
