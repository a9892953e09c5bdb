"""The layering rules of architecture.md, checked by walking every import with ``ast``.

notary (pure domain) imports no framework, driver or outer package; models imports no api/workers/falcon/
celery; nothing outside api/ imports api.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("notary", "models", "api", "workers")

NOTARY_FORBIDDEN = frozenset(
    {
        "falcon",
        "celery",
        "kombu",
        "sqlalchemy",
        "alembic",
        "redis",
        "gunicorn",
        "uvicorn",
        "httpx",
        "prometheus_client",
        "bugsnag",
        "models",
        "api",
        "workers",
    }
)
MODELS_FORBIDDEN = frozenset({"api", "workers", "falcon", "celery"})


def imported_modules(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module named by an import statement anywhere in ``source`` (also inside functions and
    ``if TYPE_CHECKING``), with relative imports resolved against ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                # Climbing past the top package is an ImportError at run time; name the target anyway.
                base = parts[: max(len(parts) - (node.level - 1), 0)]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
                if not node.module:
                    found.update(".".join([*base, alias.name]) for alias in node.names)
            else:
                assert node.module is not None
                found.add(node.module)
    return found


def top_level(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules if name}


def _module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _files(package: str) -> list[Path]:
    return sorted(path for path in (ROOT / package).rglob("*.py") if ".venv" not in path.parts)


def _imports_by_file(paths: list[Path]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for path in paths:
        module, is_package = _module_name(path)
        source = path.read_text(encoding="utf-8")
        result[str(path.relative_to(ROOT))] = top_level(imported_modules(source, module, is_package))
    return result


def _violations(paths: list[Path], forbidden: frozenset[str]) -> dict[str, list[str]]:
    return {
        name: sorted(imports & forbidden)
        for name, imports in _imports_by_file(paths).items()
        if imports & forbidden
    }


def test_every_package_has_files_to_check() -> None:
    checked = {package: [str(p.relative_to(ROOT)) for p in _files(package)] for package in PACKAGES}
    print("layering checks these files:", checked)
    for package, files in checked.items():
        assert files, f"no .py files found under {package}/"
        assert f"{package}/__init__.py" in files
    assert "notary/settings.py" in checked["notary"]
    assert "notary/tuf/signing.py" in checked["notary"]  # subpackages are walked too
    assert "models/db.py" in checked["models"]
    assert "api/routing.py" in checked["api"]
    assert (ROOT / "celeryconfig.py").is_file()


def test_notary_is_pure_domain() -> None:
    assert _violations(_files("notary"), NOTARY_FORBIDDEN) == {}


def test_models_import_no_api_workers_falcon_or_celery() -> None:
    assert _violations(_files("models"), MODELS_FORBIDDEN) == {}


def test_nothing_outside_api_imports_api() -> None:
    outside = [*_files("notary"), *_files("models"), *_files("workers"), ROOT / "celeryconfig.py"]
    assert _violations(outside, frozenset({"api"})) == {}


def test_the_walk_sees_the_real_imports() -> None:
    """The collector finds what these files are known to import, so an empty result above means something."""
    imports = _imports_by_file([ROOT / "models" / "db.py", ROOT / "notary" / "settings.py"])
    assert "sqlalchemy" in imports["models/db.py"]
    assert "notary" in imports["notary/settings.py"]


# --- the collector itself --------------------------------------------------------------------------------

SYNTHETIC = """
import json, os.path as osp
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.app import create_app

def late():
    import sqlalchemy.orm
    class Inner:
        def method(self):
            from falcon import asgi
    return Inner

try:
    import redis
except ImportError:
    redis = None

from . import sibling
from ..models import tables
from .tuf.keys import PublicKey
"""


def test_collector_finds_imports_at_any_depth() -> None:
    found = imported_modules(SYNTHETIC, "notary.settings")
    assert {"json", "os.path", "typing", "api.app", "sqlalchemy.orm", "falcon", "redis"} <= found
    assert "notary.sibling" in found
    assert "notary.tuf.keys" in found
    assert "models" in found  # ``from ..models`` in notary/settings.py climbs out of notary


def test_collector_flags_a_forbidden_import_in_synthetic_source() -> None:
    forbidden = top_level(imported_modules(SYNTHETIC, "notary.settings")) & NOTARY_FORBIDDEN
    assert forbidden == {"api", "sqlalchemy", "falcon", "redis", "models"}


def test_collector_resolves_relative_imports_in_a_package_init() -> None:
    found = imported_modules("from . import keys\nfrom .. import errors\n", "notary.tuf", is_package=True)
    assert {"notary.tuf", "notary.tuf.keys", "notary.errors"} <= found
    assert top_level(found) == {"notary"}
    assert not top_level(imported_modules("import notary.errors\n", "models.db")) & MODELS_FORBIDDEN


@pytest.mark.parametrize(
    ("source", "module", "forbidden"),
    [
        ("def f():\n    import celery\n", "models.jobs", MODELS_FORBIDDEN),
        ("from workers.app import app\n", "models.jobs", MODELS_FORBIDDEN),
        ("from api import routing\n", "workers.base", frozenset({"api"})),
        ("import prometheus_client as p\n", "notary.jobs", NOTARY_FORBIDDEN),
    ],
)
def test_collector_catches_each_kind_of_violation(
    source: str, module: str, forbidden: frozenset[str]
) -> None:
    assert top_level(imported_modules(source, module)) & forbidden
