"""The ``workflow`` command: list, describe, validate, run, schema.

Exit codes: 0 on success, 1 on an error (one line, ``error: ...``, on stderr),
2 on a usage error (from argparse), 3 when a run finished but some items failed
(each listed as a ``warning:`` line and in ``report.json``), 130 when interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from workflow.core.errors import InputError, WorkflowError
from workflow.core.files import is_safe_name
from workflow.core.imaging import decoding_file
from workflow.pipeline.schema import one_line
from workflow.plugins.registry import Registry

EXIT_ITEMS_FAILED = (
    3  # the run finished, but some items (files, frames) failed; they are listed in report.json
)
MAX_LISTED_ERRORS = 10


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (``--verbose`` and ``--strict`` work before or after the command)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log debug messages"
    )
    common.add_argument(
        "--strict",
        action="store_true",
        default=argparse.SUPPRESS,
        help="a plugin that fails to load is an error, not a warning",
    )
    parser = argparse.ArgumentParser(
        prog="workflow",
        parents=[common],
        description="Run and inspect computer-vision workflows and their tasks.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sub.add_parser("list", parents=[common], help="list the registered tasks and where they come from")
    describe = sub.add_parser("describe", parents=[common], help="a task's parameters and ports")
    describe.add_argument("task", help="task name (see 'workflow list')")
    validate = sub.add_parser("validate", parents=[common], help="check pipeline files (no model is loaded)")
    validate.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="pipeline file(s): .yaml, .yml or .json (ours or exported by Ikomia)",
    )
    run = sub.add_parser("run", parents=[common], help="run a pipeline on files, folders, videos or urls")
    run.add_argument(
        "file", metavar="FILE", help="pipeline file: .yaml, .yml or .json (ours or exported by Ikomia)"
    )
    run.add_argument(
        "-i",
        "--input",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="value of a workflow input (repeatable); NAME may be left out when there is one input",
    )
    run.add_argument("-o", "--output", metavar="DIR", help="output folder (default: runs/<pipeline name>)")
    run.add_argument("--resume", action="store_true", help="skip the items already in the output's results")
    run.add_argument("--no-images", action="store_true", help="do not write output images")
    run.add_argument(
        "--batch-size", type=int, metavar="B", help="images per batch (default: the tasks' hint, else 8)"
    )
    run.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this machine; ray: a folder on a pool of Ray actors (needs the 'ray' extra)",
    )
    run.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="engine ray: cluster to join (default $RAY_ADDRESS, else a local Ray)",
    )
    run.add_argument(
        "--actors",
        type=int,
        metavar="N",
        help="engine ray: actors in the pool (default: cluster CPUs / --actor-cpus)",
    )
    run.add_argument(
        "--actor-cpus",
        type=int,
        default=1,
        metavar="C",
        help="engine ray: CPUs (and threads) per actor (default 1)",
    )
    from workflow.serve.command import add_parser as add_serve_parser  # no FastAPI import

    add_serve_parser(sub, [common])
    schema = sub.add_parser("schema", parents=[common], help="print the JSON Schema of pipeline files")
    schema.add_argument("--no-params", action="store_true", help="leave out the per-task parameter schemas")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``workflow`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    args.verbose, args.strict = getattr(args, "verbose", False), getattr(args, "strict", False)
    _setup_logging(args.verbose)
    with warnings.catch_warnings(), _sigterm_as_interrupt():
        warnings.simplefilter("default")
        warnings.showwarning = _show_warning
        try:
            return _COMMANDS[args.command](args, Registry(strict=True if args.strict else None))
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # e.g. `workflow schema | head`: stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141
        except WorkflowError as exc:
            if args.verbose:
                traceback.print_exc()
            print(f"error: {one_line(str(exc))}", file=sys.stderr)
            return 1
        except Exception as exc:  # a bug or an OS error: still one line, the traceback on --verbose
            if args.verbose:
                traceback.print_exc()
            hint = "" if args.verbose else " (run with --verbose for the traceback)"
            print(f"error: {type(exc).__name__}: {one_line(str(exc))}{hint}", file=sys.stderr)
            return 1


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, process managers) stops a command as Ctrl-C does: results flushed, report
    written."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = one_line(str(message))
    image = decoding_file()  # a decoder's warning names the file it came from
    if image and image not in text:
        text = f"{image}: {text}"
    print(f"warning: {text}", file=sys.stderr)


# -- commands ------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace, registry: Registry) -> int:
    names = registry.names()
    if not names:
        print("no tasks registered")
        return 0
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {registry.source(name)}")
    return 0


def cmd_describe(args: argparse.Namespace, registry: Registry) -> int:
    from workflow.core.params import describe_params

    cls = registry.get(args.task)
    doc = cls.description or next(iter((cls.__doc__ or "").strip().splitlines()), "")
    print(f"{cls.name}: {doc}" if doc else cls.name)
    print(f"source: {registry.source(args.task)}")
    rows = describe_params(cls.Params)
    print("\nparameters:" if rows else "\nparameters: none")
    table = []
    for r in rows:
        aliases = [a for a in r["aliases"] if a != r["name"]]
        table.append(
            (
                r["name"],
                r["type"],
                f"default {_show(r['default'])}",
                r["help"] + (f" (aliases: {', '.join(aliases)})" if aliases else ""),
            )
        )
    widths = [max((len(row[i]) for row in table), default=0) for i in range(3)]
    for row in table:
        print("  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)) + f"  {row[3]}".rstrip())
    for title, ports in (("inputs", cls.inputs), ("outputs", cls.outputs)):
        print(f"{title}:" if ports else f"{title}: none")
        for port in ports:
            print(f"  {port.describe()}")
    return 0


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def cmd_validate(args: argparse.Namespace, registry: Registry) -> int:
    from workflow.core.errors import PipelineError
    from workflow.pipeline.build import load_workflow

    failed = 0
    for file in args.files:
        try:
            wf = load_workflow(file, registry, check_paths=True)
        except PipelineError as exc:  # every problem of the failing stage, one line each
            for problem in getattr(exc, "problems", [exc]):
                print(f"error: {problem}", file=sys.stderr)
            failed += 1
            continue
        steps = " -> ".join(t.id for t in wf.order())
        print(
            f"ok: {file}: {len(wf.tasks)} task(s): {steps or 'none'}; outputs: {', '.join(wf.output_names()) or 'none'}"
        )
    return 1 if failed else 0


def cmd_run(args: argparse.Namespace, registry: Registry) -> int:
    from workflow.core.distributed import dist_info
    from workflow.pipeline.build import load_workflow
    from workflow.run.runner import RunInterrupted, run_inputs
    from workflow.workflow import Workflow

    wf = load_workflow(
        args.file, registry, Workflow, check_paths=True
    )  # input paths checked before any model
    if not args.output and not is_safe_name(wf.name):
        raise InputError(f"pipeline name {wf.name!r} cannot name the default output folder: give --output")
    output = Path(args.output) if args.output else Path("runs") / wf.name
    inputs = parse_inputs(args.input, list(wf.inputs))
    try:
        if args.engine == "ray":
            from workflow.ray_engine import run_inputs_on_ray

            report = run_inputs_on_ray(
                wf,
                inputs,
                output,
                resume=args.resume,
                save_images=not args.no_images,
                batch_size=args.batch_size,
                actors=args.actors,
                actor_cpus=args.actor_cpus,
                address=args.ray_address,
            )
        elif args.actors or args.ray_address:
            raise InputError("--actors and --ray-address need --engine ray")
        else:
            report = run_inputs(
                wf,
                inputs,
                output,
                resume=args.resume,
                save_images=not args.no_images,
                **({"batch_size": args.batch_size} if args.batch_size else {}),
            )
    except RunInterrupted as exc:
        print(f"error: interrupted; partial results kept: {exc.report.summary()}", file=sys.stderr)
        return 130
    if not dist_info().is_main:
        return 0
    print(report.summary())
    for error in report.errors[:MAX_LISTED_ERRORS]:
        where = ", ".join(f"{k} {v}" for k, v in error.items() if k != "reason")
        print(f"warning: {where}: {error.get('reason', '')}", file=sys.stderr)
    if report.failed:
        more = f" (listed in {report.report_json})" if report.report_json else ""
        print(f"error: {report.failed} item(s) failed{more}", file=sys.stderr)
        return EXIT_ITEMS_FAILED
    return 0


def parse_inputs(values: list[str], names: list[str]) -> dict[str, str]:
    """``["image=photos/"]`` -> ``{"image": "photos/"}``; ``NAME=`` may be left out when there is one input.

    Raises:
        InputError: no name where several inputs are declared, or a name given twice.
    """
    inputs: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or (name not in names and len(names) == 1):
            if len(names) != 1:
                raise InputError(
                    f"--input {value!r}: write NAME=PATH; the pipeline's inputs are: {', '.join(names) or 'none'}"
                )
            name, path = names[0], value
        if name in inputs:
            raise InputError(f"--input: '{name}' is given twice")
        if not path.strip():
            raise InputError(f"--input {value!r}: no value for input '{name}' (write {name}=PATH)")
        inputs[name] = path
    return inputs


def cmd_schema(args: argparse.Namespace, registry: Registry) -> int:
    from workflow.pipeline.schema import pipeline_json_schema

    print(json.dumps(pipeline_json_schema(registry, with_params=not args.no_params), indent=2, default=str))
    return 0


_COMMANDS = {
    "list": cmd_list,
    "describe": cmd_describe,
    "validate": cmd_validate,
    "run": cmd_run,
    "schema": cmd_schema,
}


def cmd_serve(args: argparse.Namespace, registry: Registry) -> int:
    from workflow.serve.command import run_command

    return run_command(args, registry)


_COMMANDS["serve"] = cmd_serve
