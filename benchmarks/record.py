"""Where a benchmark's figures come from: each result is a JSON line with the command that measured
it, the date, the commit and the machine, and the documentation prints that beside the figures.
"""

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def machine():
    """This machine in a few words: CPU model, cores, memory, and whether it has a GPU."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    memory = ""
    try:
        with open("/proc/meminfo") as handle:
            kib = int(next(line.split()[1] for line in handle if line.startswith("MemTotal")))
        memory = f", {kib / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    gpu = "" if os.path.exists("/dev/nvidia0") else ", no GPU"
    return f"{cpu}, {os.cpu_count()} cores{memory}{gpu}"


def _commit():
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + (" (with changes)" if dirty else "") if out.returncode == 0 else None
    except OSError:
        return None


def provenance(argv=None):
    """The fields every result line carries: command, date, commit, machine."""
    argv = sys.argv if argv is None else argv
    script = os.path.relpath(os.path.abspath(argv[0]), ROOT) if argv and argv[0].endswith(".py") else argv[0]
    return {"command": shlex.join(["python", script, *argv[1:]]),
            "date": datetime.date.today().isoformat(), "commit": _commit(), "machine": machine()}


def append(path, row):
    """Appends `row`, with its provenance, to the JSON lines at `path`; returns the line's dict."""
    line = {**provenance(), **row}
    with open(path, "a") as handle:
        handle.write(json.dumps(line) + "\n")
    return line


def rows(path):
    """Every result line at `path` (a name alone means benchmarks/NAME)."""
    path = path if os.sep in path else os.path.join(ROOT, "benchmarks", path)
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def latest(path):
    """The newest result line at `path`."""
    return rows(path)[-1]


def source(row):
    """One Markdown line saying where `row`'s figures come from."""
    commit = f" at commit {row['commit']}" if row.get("commit") else ""
    return f"Measured by `{row['command']}`{commit} on {row['date']}; machine: {row['machine']}."


def sources(path):
    """One Markdown line saying where the rows of a results file come from: their commands, dates
    and machines, and for rows recorded before lines carried them, the dates git gives the file."""
    found = rows(path)
    dated = [row for row in found if "date" in row]
    parts = []
    if dated:
        commands = sorted({row["command"] for row in dated})
        dates = sorted({row["date"] for row in dated})
        machines = sorted({row["machine"] for row in dated})
        span = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}"
        parts.append(f"{len(dated)} rows measured by {', '.join(f'`{c}`' for c in commands)} on {span}; "
                     f"machine: {'; '.join(machines)}.")
    undated = len(found) - len(dated)
    if undated:
        name = path if os.sep in path else os.path.join("benchmarks", path)
        log = subprocess.run(["git", "-C", ROOT, "log", "--format=%as", "--", name], capture_output=True, text=True)
        days = sorted(set(log.stdout.split()))
        when = f", committed from {days[0]} to {days[-1]}" if len(days) > 1 else (f", committed on {days[0]}" if days else "")
        parts.append(f"{undated} rows recorded before result lines carried their command and date{when}, on "
                     "kgan's 2-core, CPU-only development machine.")
    return " ".join(parts)
