"""A cache key per stage: a hash of the code a component runs, and of nothing else.

TFX references our code by module path, which its cache key does not see; a
component that gets this hash as a parameter reruns exactly when the code it
runs changed. The code a component runs is its entry module and every project
module that imports, transitively (read from the source, not by importing it,
so computing a key never loads TensorFlow or TFX).
"""
from __future__ import annotations

import ast
import hashlib
import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parent.parent
PROJECT_PACKAGES = ("components", "modules", "pipeline")


def _source(module: str) -> pathlib.Path | None:
    path = PROJECT_ROOT.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported(tree: ast.AST) -> set[str]:
    """Project modules named by the import statements of one file."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            # `from modules import data` imports the module modules.data.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] in PROJECT_PACKAGES}


def module_closure(*entry_modules: str, exclude: tuple[str, ...] = ()) -> list[pathlib.Path]:
    """The source files of `entry_modules` and of the project modules they import,
    transitively, sorted; modules in `exclude` are neither included nor followed."""
    seen: dict[str, pathlib.Path] = {}
    pending = list(entry_modules)
    while pending:
        module = pending.pop()
        if module in seen or module in exclude:
            continue
        path = _source(module)
        if path is None:  # a name imported from a module, not a module
            continue
        seen[module] = path
        parts = module.split(".")
        pending.extend(".".join(parts[:end]) for end in range(1, len(parts)))  # packages
        pending.extend(_imported(ast.parse(path.read_bytes(), filename=str(path))))
    return sorted(set(seen.values()))


def code_version(*entry_modules: str, exclude: tuple[str, ...] = ()) -> str:
    """16 hex digits over the closure's relative paths and contents."""
    digest = hashlib.sha256()
    for path in module_closure(*entry_modules, exclude=exclude):
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]
