"""How long checking a change takes: CI's whole run, or the default `pytest`, on a clean clone.

    python benchmarks/suite.py [--default] [--out benchmarks/suite.jsonl]

Clones the repository's HEAD into a temporary folder and runs, there, `bash .ci/run` (CI: installs
every extra, Chromium and onnxruntime-web, then the suite with every mark) or, with `--default`,
README's test command (`pip install -e ".[all]"`, `npm ci --prefix tests/web` and `pytest`, the default marks). Records the
wall-clock time of the whole command, pytest's own count and time, and its slowest tests. The
editable install is pointed back at this checkout afterwards. Each run appends a line to `--out`,
which the documentation's Benchmarks page draws (`section`). Run it on an idle machine: the suite
fills both cores.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = ('python3 -m pip install --quiet -e ".[all]" && npm ci --prefix tests/web --no-audit --no-fund '
           '--loglevel=error && python3 -m pytest -ra --durations=10')  # README's second command


def measure(default):
    with tempfile.TemporaryDirectory() as tmp:
        clone = os.path.join(tmp, "kgan")
        subprocess.run(["git", "clone", "--quiet", ROOT, clone], check=True)
        command = DEFAULT if default else "bash .ci/run"
        started = time.time()
        run = subprocess.run(["bash", "-c", command], cwd=clone, capture_output=True, text=True)
        elapsed = time.time() - started
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ROOT], check=True)
    out = run.stdout + run.stderr
    summary = re.findall(r"=+ (.*) in ([\d.]+)s", out)
    slowest = re.findall(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)", out, re.M)
    if not summary:
        raise SystemExit(f"no pytest summary in the output (exit {run.returncode}):\n{out[-3000:]}")
    return {"run": "default pytest" if default else "CI (.ci/run)", "command_run": command,
            "exit_code": run.returncode, "summary": summary[-1][0], "pytest_seconds": float(summary[-1][1]),
            "elapsed_seconds": round(elapsed, 1),
            "slowest": [{"seconds": float(s), "phase": phase, "test": test} for s, phase, test in slowest[:10]]}


def _minutes(seconds):
    return f"{int(seconds // 60)} min {round(seconds % 60):02d} s"


def section(rows):
    """The Benchmarks page's Tests section: the newest CI and default runs, CI's slowest tests."""
    from record import source

    parts = []
    for kind in ("CI (.ci/run)", "default pytest"):
        runs = [row for row in rows if row["run"] == kind]
        if not runs:
            continue
        row = runs[-1]
        parts.append(f"**{kind}** on a clean clone (`{row['command_run']}`): {row['summary']} "
                     f"(pytest's own time {_minutes(row['pytest_seconds'])}), {_minutes(row['elapsed_seconds'])} "
                     f"in all, exit code {row['exit_code']}. {source(row)}")
        if kind.startswith("CI"):
            parts.append("\n".join(["Its slowest tests (one core each; two run at once):", "",
                                    "| seconds | test |", "| ---: | --- |",
                                    *(f"| {t['seconds']:.0f} | `{t['test']}` ({t['phase']}) |" for t in row["slowest"])]))
    return "\n\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--default", action="store_true", help="README's default test command instead of CI")
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "suite.jsonl"))
    args = parser.parse_args()
    from record import append, rows

    append(args.out, measure(args.default))
    print(section(rows(args.out)))


if __name__ == "__main__":
    main()
