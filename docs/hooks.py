"""MkDocs hooks: the executed examples run in a scratch folder, quietly, with the build's clock.

markdown-exec runs the pages' ```python exec="on"``` and ```bash exec="on"``` blocks in this
process (Python) or a shell started in its working folder (bash): the runs, exports and images
the examples write go to a scratch folder that the build removes, never into the checkout.

A bash block made only of `kgan` commands runs each command through `kgan.cli.main` in this
process, as the test suite's CLI checks do: the same parser and code as the installed `kgan`,
without a TensorFlow start-up (about 5 s) per command. A block with any other shell, or one
that needs a process of its own (`--strategy`, `--devices`: TensorFlow's devices are fixed at
its start), runs in bash.
"""

import contextlib
import io
import os
import shlex
import shutil
import tempfile
import time

_state = {}


def _nav_paths(items):
    for item in items or ():
        value = next(iter(item.values())) if isinstance(item, dict) else item
        if isinstance(value, list):
            yield from _nav_paths(value)
        else:
            yield value


def on_files(files, config):
    """Pages are built in the order of the nav, so that a guide can use what an earlier page made
    (Getting started's digits run and export, which the later guides sample from)."""
    from mkdocs.structure.files import Files

    order = {path: i for i, path in enumerate(_nav_paths(config["nav"]))}
    return Files(sorted(files, key=lambda f: order.get(f.src_uri, len(order))))


def on_pre_build(config):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    # The checkout, for the pages that read benchmarks/*.jsonl and run the benchmarks' table code.
    os.environ["KGAN_DOCS_ROOT"] = os.path.dirname(os.path.abspath(config.config_file_path))
    _state["cwd"], _state["scratch"] = os.getcwd(), tempfile.mkdtemp(prefix="kgan-docs-")
    _state["start"] = time.monotonic()
    os.chdir(_state["scratch"])


def _kgan_lines(code):
    """The block's `kgan` commands as argument lists, or None when it needs a shell."""
    commands = []
    for line in code.splitlines():
        line = line.split("  #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        for command in line.split(" && "):
            words = shlex.split(command)
            if not words or words[0] != "kgan" or {"--strategy", "--devices"} & set(words) or \
                    any(w in ("|", ";", ">", "<") for w in words):
                return None
            commands.append(words[1:])
    return commands


def _run_bash(code, returncode=None, session=None, id=None, **extra):
    from markdown_exec._internal.formatters import bash
    from markdown_exec._internal.formatters.base import ExecutionError
    from markdown_exec._internal.rendering import code_block

    commands = _kgan_lines(code)
    if commands is None:
        return bash._run_bash(code, returncode, session, id, **extra)
    from kgan.cli import main

    output = io.StringIO()
    for argv in commands:
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            status = main(argv)
        if status != (returncode or 0):
            raise ExecutionError(code_block("sh", output.getvalue(), **extra), status)
    return output.getvalue()


def on_config(config):
    from markdown_exec._internal import main as markdown_exec
    from markdown_exec._internal.formatters.base import base_format

    markdown_exec.formatters["bash"] = lambda **kwargs: base_format(language="bash", run=_run_bash, **kwargs)
    return config


def _leave():
    os.chdir(_state.pop("cwd"))
    shutil.rmtree(_state.pop("scratch"), ignore_errors=True)
    return time.monotonic() - _state.pop("start")


def on_page_markdown(markdown, page, config, files):
    _state.setdefault("pages", {})[page.file.src_uri] = time.monotonic()
    return markdown


def on_page_content(html, page, config, files):
    # markdown-exec runs a page's examples while its Markdown becomes HTML: this is their time.
    started = _state["pages"][page.file.src_uri]
    _state["pages"][page.file.src_uri] = time.monotonic() - started
    return html


def on_post_build(config):
    pages = sorted(_state.pop("pages", {}).items(), key=lambda item: -item[1])
    slowest = ", ".join(f"{path} {seconds:.0f} s" for path, seconds in pages[:5])
    print(f"kgan docs: pages and their examples built in {_leave():.0f} s; slowest pages: {slowest}")


def on_build_error(error):
    if "cwd" in _state:
        _leave()
