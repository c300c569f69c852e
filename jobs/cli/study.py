"""``imgjobs study JOB``: the command line of throughput studies (:mod:`jobs.study`)."""

from __future__ import annotations

import argparse
import os
import shlex

from jobs import registry
from jobs.cli.flags import add_job_arguments
from jobs.cliargs import examples, list_of, positive
from jobs.errors import UsageError

__all__ = ["add_study_parser", "run_study"]


def add_study_parser(sub, verbosity, plugins: bool = True) -> None:
    """``imgjobs study JOB``: a subcommand per job whose spec says what a study sweeps."""
    cores = os.cpu_count() or 1
    workers = ",".join(str(w) for w in sorted({1, 2, cores // 2, cores} - {0}))
    s = sub.add_parser(
        "study",
        parents=[verbosity],
        help="throughput studies: sweeps, CSV, Markdown report, figures",
        description="Run a job under many configurations (--repeats each) and write into --out: results.csv, "
        "results.md (machine, table, shared-baseline speedups, Amdahl and per-task overhead fits, warnings, how "
        "to read each figure) and, with matplotlib (pip install 'imgjobs[plot]'), throughput.png, "
        "efficiency.png and, for a task-size sweep, task_size.png. The same as jobs.study.sweep in Python.",
        epilog=examples(
            "imgjobs study resize train.txt --workers 1,2 --out study-resize",
            "imgjobs study compress scans/",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ssub = s.add_subparsers(dest="study", metavar="JOB", required=True)
    common = argparse.ArgumentParser(add_help=False, parents=[verbosity])
    g = common.add_argument_group("sweep")
    g.add_argument(
        "--workers",
        type=list_of(positive),
        metavar="LIST",
        default=list_of(positive)(workers),
        help=f"worker counts (default {workers}: 1, 2, half the cores, every core)",
    )
    g.add_argument(
        "--threads-per-worker",
        type=list_of(positive),
        default=[1],
        metavar="LIST",
        help="threads per LocalCluster worker (default 1)",
    )
    g.add_argument(
        "--modes",
        type=list_of(str),
        default=["threads", "local"],
        metavar="LIST",
        help="Dask schedulers: threads, processes, local (default threads,local)",
    )
    g.add_argument("--repeats", type=positive, default=3, metavar="R", help="runs per configuration (default 3)")
    g.add_argument("--out", metavar="DIR", help="where results go (default study-JOB)")
    g.add_argument("--no-figures", action="store_true", help="only results.csv and results.md")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    for spec in registry.specs(plugins=plugins).values():  # every job a study can sweep
        if spec.study is None:
            continue
        first = next(iter(spec.inputs))
        j = ssub.add_parser(
            spec.name,
            parents=[common],
            help=f"sweep the {spec.name} job",
            description=f"Sweep the {spec.name} job: Dask schedulers x workers x {spec.study.knob_label}"
            + (", and the classic exercise's executors" if spec.study.executors else "")
            + f". The job's own options have the {spec.name} command's defaults.",
            epilog=examples(f"imgjobs study {spec.name} {first.upper()} --workers 1,2 --out study-{spec.name}"),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        j.add_argument(first, metavar=first.upper(), help=f"what {spec.name} reads (as for imgjobs {spec.name})")
        add_job_arguments(j, spec, names=spec.study.options)
        spec.study.arguments(j)


def run_study(args, argv) -> int:
    """``imgjobs study JOB ...``: sweep, print each configuration as it ends, write the results."""
    from tqdm import tqdm  # start-up: tqdm (~10 ms) and the studies load for imgjobs study only

    from jobs import study  # start-up: the studies (~20 ms) load for imgjobs study only

    spec = registry.get(args.study)
    assert spec.study is not None  # its subcommand exists only then
    chosen = getattr(args, "executors", [])
    executors = [] if chosen == ["none"] else chosen
    configs = study.grid(
        args.study,
        workers=args.workers,
        modes=args.modes,
        threads_per_worker=args.threads_per_worker,
        task_sizes=args.task_sizes,
        executors=executors,
    )
    options = {k: getattr(args, k) for k in spec.study.options if hasattr(args, k)}
    out = args.out or f"study-{args.study}"
    try:  # before any measurement: a sweep's results are never lost to an --out that cannot take them
        os.makedirs(out, exist_ok=True)
    except OSError as e:
        raise UsageError(f"--out {out}: cannot write the study's results there ({e.strerror or e})") from None

    def say(row):
        if not args.quiet:
            threads = f" x {row['threads_per_worker']} threads" if row["threads_per_worker"] > 1 else ""
            tqdm.write(
                f"  {row['mode']:<19} {row['workers']:>3} worker(s){threads:<12} task size {row['task_size']!s:>5}: "
                f"{row['rate']:>10,.1f} {row['unit']} (median {row['median_s']:.3f} s of {row['repeats']})"
            )

    if not args.quiet:
        print(f"study {args.study}: {len(configs)} configuration(s) x {args.repeats} repeat(s), {os.cpu_count()} cores")
    result = study.sweep(
        args.study,
        configs,
        args.repeats,
        source=getattr(args, next(iter(spec.inputs))),
        progress=False if (args.quiet or args.no_progress) else None,
        callback=say,
        **options,
    )
    result.command = "imgjobs " + " ".join(shlex.quote(a) for a in argv)
    paths = result.save(out, figures=not args.no_figures)
    if not args.quiet:
        print("wrote " + ", ".join(paths))
    return 0
