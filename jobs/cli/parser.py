"""The ``imgjobs`` argument parser: one command per job of the registry, and studies, certs and samples.

A job's command is built from what the job declares (:mod:`jobs.cli.flags`).
"""

from __future__ import annotations

import argparse

from jobs import registry
from jobs.cli.flags import add_job_arguments, add_scheduler_options
from jobs.cli.helptext import configured
from jobs.cli.study import add_study_parser
from jobs.cliargs import examples, positive, whole
from jobs.clusters.systems import TYPES
from jobs.version import __version__

__all__ = ["build_parser"]

_EPILOG = """\
schedulers:
  auto                threads, or processes when {auto_files} small files or more share batch tasks
  threads             dask's thread pool in this process: instant start; large images scale on it
  processes           dask's local process pool: many small files (Python-bound work) scale on it
  local               a distributed LocalCluster, --workers N x --threads-per-worker T,
                      on 127.0.0.1 with the dashboard (the link is printed)
  --scheduler-address / --scheduler-file
                      an existing cluster, e.g. `dask scheduler --scheduler-file f.json`
                      started by a batch job (scripts/pbs_job.sh, scripts/slurm_job.sh)
  --cluster PROFILE --jobs N|MIN:MAX
                      workers submitted as batch jobs through dask-jobqueue, sized by a
                      profile of configs/imgjobs.yaml, one per batch system:
                      {systems};
                      N jobs, or MIN to MAX as the work needs; --dry-run prints the job script
  --tls               encrypted, authenticated connections (see `imgjobs certs`)

examples:
  imgjobs compress scans/ rle/ --scheduler local --workers 2
  imgjobs verify scans/ rle/
  imgjobs resize train.txt --num-images 2000 --out batch.npy
  imgjobs study resize train.txt --workers 1,2 --out study-resize
  imgjobs compress scans/ rle/ --cluster pbs --jobs 4 --dry-run
  imgjobs resize train.txt --out batch.zarr --cluster slurm --jobs 1:8

Defaults come from configs/imgjobs.yaml through dask.config; flags win.  The scheduler
by default (imgjobs.scheduler.kind): {kind}.
Exit status: 0 all fine, 1 some file failed, 2 usage error, 130 interrupted.
"""


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The argument parser for ``imgjobs``: a command per job of the registry, and studies, certs, samples.

    ``plugins=False``: only the jobs imgjobs ships (:func:`jobs.registry.specs`).
    """
    parser = argparse.ArgumentParser(
        prog="imgjobs",
        description="Image batch jobs on Dask: compress 1-bit images to the classic .rle format and back, "
        "build (N, H, W, 3) training batches from JPEG lists, and measure throughput.",
        epilog=_EPILOG.replace("{auto_files}", configured("scheduler.auto-processes-files"))
        .replace("{kind}", configured("scheduler.kind"))
        .replace("{systems}", ", ".join(TYPES)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no summary")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # the same two flags after the subcommand (imgjobs compress ... -q)
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    verbosity.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    for spec in registry.specs(plugins=plugins).values():  # one command per job
        p = sub.add_parser(
            spec.name,
            parents=[verbosity],
            help=spec.help,
            description=spec.description,
            epilog=examples(*spec.examples),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_job_arguments(p, spec)
        add_scheduler_options(p)

    k = sub.add_parser(
        "certs",
        parents=[verbosity],
        help="make TLS certificates for a private cluster",
        description="Write a self-signed certificate (cert.pem, also the CA file) and its key (key.pem, "
        "mode 600) into DIR, for --tls with a scheduler file, an address or a cluster profile. Put DIR "
        "on a file system the compute nodes share, and give the same files to dask scheduler and "
        "dask worker (--tls-ca-file, --tls-cert, --tls-key).",
        epilog=examples("imgjobs certs ~/imgjobs-certs"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    k.add_argument("dir", metavar="DIR", help="directory for cert.pem and key.pem (created if missing)")

    m = sub.add_parser(
        "samples",
        parents=[verbosity],
        help="write sample JPEGs (class folders and a labelled list) for resize and studies",
        description="Write N photograph-like JPEGs into class folders of DIR, and DIR/train.txt listing each "
        "with its label: input for imgjobs resize, imgjobs study resize and the course notebook, no download "
        "needed. The same --seed writes the same bytes.",
        epilog=examples(
            "imgjobs samples photos/ --jpegs 2000       # photos/train.txt: 2,000 images, 4 classes",
            "imgjobs resize photos/train.txt --size 64x64 --out batch.npy",
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("dir", metavar="DIR", help="where the class folders and train.txt go (created if missing)")
    m.add_argument("--jpegs", type=positive, default=200, metavar="N", help="how many images (default 200)")
    m.add_argument(
        "--classes", type=positive, metavar="K", help="class folders (default 4, or the number of images if fewer)"
    )
    m.add_argument(
        "--size", default="500x375", metavar="WxH", help="image size (default 500x375, ImageNet's most common)"
    )
    m.add_argument("--seed", type=whole(0), default=0, metavar="S", help="random seed, >= 0 (default 0)")

    add_study_parser(sub, verbosity, plugins)
    _whole_names_only(parser)
    return parser


def _whole_names_only(parser: argparse.ArgumentParser) -> None:
    """No abbreviated options, in ``parser`` and every subcommand's under it (a plugin job's too).

    argparse takes ``--overwrit`` as ``--overwrite`` (any unique prefix) unless told otherwise: a
    misspelt or truncated flag, in a script or pasted from a page, would silently do something else
    once another flag shares the prefix.  An option is its whole name or an error.
    """
    parser.allow_abbrev = False
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _whole_names_only(child)
