"""Counts the imports of kgan modules that sit inside functions, per file of a package folder.

    python tests/scripts/function_imports.py kgan
"""

import ast
import collections
import pathlib
import sys


def function_imports(root):
    """`{path: count}` of the `import kgan...` / `from kgan... import` statements inside functions."""
    counts = collections.Counter()
    for path in sorted(pathlib.Path(root).rglob("*.py")):
        seen = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                kgan = (isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("kgan"))
                        or isinstance(inner, ast.Import) and any(a.name.startswith("kgan") for a in inner.names))
                if kgan and id(inner) not in seen:  # a nested function's import is walked twice
                    seen.add(id(inner))
                    counts[path.as_posix()] += 1
    return counts


if __name__ == "__main__":
    counts = function_imports(sys.argv[1] if len(sys.argv) > 1 else "kgan")
    for path, count in counts.most_common():
        print(count, path)
    print("total", sum(counts.values()))
