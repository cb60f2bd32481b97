"""README's first command on a clean clone: install, train the digits preset, export, write samples.

    python benchmarks/main_job.py [--out benchmarks/main_job.jsonl]

Clones the repository's HEAD into a temporary folder and times there, each on its own, the two
halves of `pip install -e ".[export]" && kgan train` (pip's cache as this machine has it), with
the training time `kgan train` prints. The editable install is pointed back at this checkout
afterwards. Each run appends a line to `--out`, which the documentation's Benchmarks page draws
(`section`). Run it on an idle machine.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure():
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        clone = os.path.join(tmp, "kgan")
        subprocess.run(["git", "clone", "--quiet", ROOT, clone], check=True)
        for name, command in (("install", [sys.executable, "-m", "pip", "install", "--quiet", "-e", ".[export]"]),
                              ("train", [sys.executable, "-m", "kgan", "train"])):
            started = time.time()
            run = subprocess.run(command, cwd=clone, capture_output=True, text=True)
            times[name] = round(time.time() - started, 1)
            if run.returncode:
                raise SystemExit(f"{name} failed (exit {run.returncode}):\n{(run.stdout + run.stderr)[-3000:]}")
        trained = re.search(r"trained in ([\d.]+) s", run.stdout + run.stderr)
        samples = sorted(os.listdir(os.path.join(clone, "saved_models", "digits", "samples")))
        exported = sorted(os.listdir(os.path.join(clone, "export", "digits")))
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", ROOT], check=True)
    return {"install_seconds": times["install"], "train_command_seconds": times["train"],
            "training_seconds": float(trained.group(1)) if trained else None,
            "sample_grids": len(samples), "exported": exported}


def section(row):
    """The Benchmarks page's main-job figure, from one result line."""
    from record import source

    total = row["install_seconds"] + row["train_command_seconds"]
    return (f"`pip install -e \".[export]\" && kgan train` on a clean clone: {total:.0f} s in all, the install "
            f"{row['install_seconds']:.0f} s (pip's cache warm) and `kgan train` {row['train_command_seconds']:.0f} s, "
            f"of which {row['training_seconds']:.1f} s training 150 epochs; then the export ("
            f"{', '.join(f'`{name}`' for name in row['exported'])}). {source(row)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "main_job.jsonl"))
    args = parser.parse_args()
    from record import append

    print(section(append(args.out, measure())))


if __name__ == "__main__":
    main()
