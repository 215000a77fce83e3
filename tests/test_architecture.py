"""The architecture holds: layers run one way (the import-linter contract in pyproject.toml)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_layers_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "1 kept, 0 broken" in r.stdout


def _inner_imports_without_a_reason() -> list[str]:
    """Imports inside functions with no comment saying why: on the import's lines, the line above it, or
    (for a group of imports together) any line of the group."""
    out = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for fn in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                first = node.lineno - 1
                while first > 0 and lines[first - 1].strip().startswith(("import ", "from ")):
                    first -= 1  # the top of this group of imports
                if not any("#" in line for line in lines[max(0, first - 1):node.end_lineno]):
                    out.append(f"{path.relative_to(ROOT)}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return out


def test_imports_are_at_the_top_unless_a_comment_says_why():
    """An import inside a function hides the layers (and cycles) it makes: at the top of the module, or
    with a reason beside it (an optional or heavy library, start-up time, a platform)."""
    assert _inner_imports_without_a_reason() == []
