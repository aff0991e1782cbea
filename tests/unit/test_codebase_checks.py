"""The codebase checks itself: the package contract, lint, format and strict types (issue 23).

`bash scripts/test.sh` runs these, so a new import that breaks a contract, a lint error or a
type error in a strict module fails the test command. The configuration is in `pyproject.toml`
(`[tool.importlinter]`, `[tool.ruff]`, `[tool.mypy]`); the layers are drawn in
`docs/architecture.md`. Each check runs the real tool on the tree and shows its output when it
fails; the tests after them break a copy of the tree on purpose and expect the same check to fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exam_engine", "admin_ui", "question_bank", "proctor", "journal_bridge")
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    """The tool installed next to this Python (the project's virtual environment), else on PATH."""
    local = BIN / name
    found = str(local) if local.exists() else shutil.which(name)
    assert found, f"{name} is not installed: pip install -e '.[test]'"
    return found


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def _shown(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("lint-imports"), "--no-cache"], cwd)


def ruff_check(cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("ruff"), "check", "--no-cache", "--output-format", "concise", "."], cwd)


def ruff_format_check(cwd: Path) -> subprocess.CompletedProcess[str]:
    return _run([_tool("ruff"), "format", "--check", "--no-cache", "."], cwd)


def mypy(cwd: Path, *paths: str) -> subprocess.CompletedProcess[str]:
    """mypy with the project's configuration: over its list of strict modules, or over ``paths``."""
    return _run([_tool("mypy"), *paths], cwd)


# ------------------------------------------------------------------------------------------ the tree


def test_the_package_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, _shown(result)
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout, _shown(result)
    assert not any("ignore_imports" in c for c in contracts), "a contract lists an exception"


def test_the_tree_passes_the_linter() -> None:
    result = ruff_check(ROOT)
    assert result.returncode == 0, _shown(result)


def test_tree_is_formatted() -> None:
    result = ruff_format_check(ROOT)
    assert result.returncode == 0, _shown(result)


def test_the_strict_modules_type_check() -> None:
    result = mypy(ROOT)
    assert result.returncode == 0, _shown(result)
    assert "Success: no issues found" in result.stdout, _shown(result)


# ------------------------------------------------------------------- the checks fail on a broken tree


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The five packages and pyproject.toml, copied: the tests below break the copy, never the tree."""
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            copy / package,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo", "*.onnx", "static", "templates"),
        )
    shutil.copy2(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


@contextmanager
def appended(tree: Path, module: str, text: str) -> Iterator[Path]:
    """``text`` appended to ``module`` of the copy for the duration of the block."""
    path = tree / module
    before = path.read_text(encoding="utf-8")
    path.write_text(before + text, encoding="utf-8")
    try:
        yield path
    finally:
        path.write_text(before, encoding="utf-8")


def test_the_copied_tree_passes_the_contracts_as_it_is(tree: Path) -> None:
    # The tests below change one line; this one shows the copy itself is not what they catch.
    result = lint_imports(tree)
    assert result.returncode == 0, _shown(result)


@pytest.mark.parametrize(
    ("module", "line", "contract", "named"),
    [
        (
            "exam_engine/domain/roles.py",
            "from exam_engine.services import attempts",
            "exam_engine's layers",
            "exam_engine.domain.roles -> exam_engine.services.attempts",
        ),
        (
            "exam_engine/security/signing.py",
            "from exam_engine.services import relay",
            "exam_engine's layers",
            "exam_engine.security.signing -> exam_engine.services.relay",
        ),
        (
            "exam_engine/bootstrap.py",
            "from admin_ui import pages",
            "exam_engine's layers",
            "exam_engine.bootstrap -> admin_ui.pages",
        ),
        (
            "admin_ui/staff.py",
            "from exam_engine.services import users",
            "admin_ui uses the exam server only through exam_engine.api",
            "admin_ui.staff -> exam_engine.services.users",
        ),
        (
            "question_bank/model.py",
            "from exam_engine.web import http",
            "question_bank, proctor and journal_bridge never import the host's",
            "question_bank.model -> exam_engine.web.http",
        ),
        (
            "proctor/kinds.py",
            "import journal_bridge.scale",
            "question_bank, proctor and journal_bridge do not import each other",
            "proctor.kinds -> journal_bridge.scale",
        ),
        (
            "journal_bridge/grading.py",
            "import sqlalchemy",
            "The pure cores import no database",
            "journal_bridge.grading -> sqlalchemy",
        ),
        (
            "exam_engine/cli/bank.py",
            "from exam_engine.cli import journal",
            "The command line",
            "exam_engine.cli.bank -> exam_engine.cli.journal",
        ),
        (
            "exam_engine/services/attempt_start.py",
            "from exam_engine.services import attempts",
            "No import cycle among the services",
            "No cycles are allowed in exam_engine.services",
        ),
    ],
)
def test_an_import_against_a_contract_fails_the_check(
    tree: Path, module: str, line: str, contract: str, named: str
) -> None:
    with appended(tree, module, f"\n{line}  # noqa\n"):
        result = lint_imports(tree)
    assert result.returncode != 0, _shown(result)
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, _shown(result)
    assert named in " ".join(broken.split()), _shown(result)


def test_a_lint_error_fails_the_check(tree: Path) -> None:
    assert ruff_check(tree).returncode == 0, _shown(ruff_check(tree))
    with appended(tree, "question_bank/model.py", "\n\ndef lookup(table: dict = {}) -> None:\n    import os\n"):
        result = ruff_check(tree)
    assert result.returncode != 0, _shown(result)
    assert "question_bank/model.py" in result.stdout, _shown(result)
    assert "F401" in result.stdout and "B006" in result.stdout, _shown(result)  # unused import, mutable default


def test_an_unformatted_file_fails_the_format_check(tree: Path) -> None:
    path = tree / "exam_engine" / "cli" / "common.py"  # formatted when it was written
    assert _run([_tool("ruff"), "format", "--check", "--no-cache", str(path)], tree).returncode == 0
    with appended(tree, "exam_engine/cli/common.py", "\nX = { 'a':1 }\n"):
        result = _run([_tool("ruff"), "format", "--check", "--no-cache", str(path)], tree)
    assert result.returncode != 0, _shown(result)
    assert "would be reformatted" in result.stdout + result.stderr, _shown(result)


def test_a_type_error_in_a_strict_module_fails_the_check(tree: Path) -> None:
    strict = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    assert "exam_engine/domain" in strict  # the module broken below is one the real check covers
    module = "exam_engine/domain/holds.py"
    assert mypy(tree, module).returncode == 0, _shown(mypy(tree, module))
    with appended(tree, module, '\n\ndef deadline_hours(policy: HoldPolicy) -> int:\n    return "48"\n'):
        result = mypy(tree, module)
    assert result.returncode != 0, _shown(result)
    assert f"{module}:" in result.stdout and "Incompatible return value type" in result.stdout, _shown(result)


def test_an_untyped_function_in_a_strict_module_fails_the_check(tree: Path) -> None:
    module = "question_bank/formats/gift.py"
    with appended(tree, module, "\n\ndef helper(value):\n    return value\n"):
        result = mypy(tree, module)
    assert result.returncode != 0, _shown(result)
    assert "no-untyped-def" in result.stdout, _shown(result)


def test_the_facade_contract_names_every_other_module_of_the_host_and_the_journal() -> None:
    # A new module of exam_engine or journal_bridge is forbidden to the pages until someone decides otherwise.
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    forbidden = set(next(c for c in contracts if c["id"] == "pages-through-the-facade")["forbidden_modules"])
    allowed = {"exam_engine.api", "exam_engine.i18n", "journal_bridge.api"}
    for package in ("exam_engine", "journal_bridge"):
        children = {
            f"{package}.{p.stem if p.is_file() else p.name}"
            for p in (ROOT / package).iterdir()
            if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
        }
        missing = sorted(children - allowed - forbidden)
        assert not missing, f"add to pages-through-the-facade in pyproject.toml (or allow on purpose): {missing}"
