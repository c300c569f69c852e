"""Every batch system of dask-jobqueue as a profile's type: the job script is dask-jobqueue's own, for the same options.

Each system's profile is turned into a job script by imgjobs (``jobs.clusters.job_script``,
what ``--dry-run`` prints) and compared with the script dask-jobqueue's own cluster class
writes when built with the equivalent keyword arguments; then the directives that only that
system has are looked for by name.  What differs between the batch systems for imgjobs
itself (the class, the sizes a job states, how the states of its jobs are asked for) is read
from ``jobs.clusters.systems``, and checked here against fake status commands.  The real
batch systems are Slurm's (tests/test_slurm.py) and stand-ins that run the scripts
(tests/test_cluster.py).
"""

from __future__ import annotations

import re
import shutil
import sys
import warnings

import dask
import pytest
import yaml

from conftest import ROOT
from jobs.clusters import job_script
from jobs.clusters.lifecycle import _job_states
from jobs.clusters.profiles import _make, close_temporaries, profile
from jobs.clusters.systems import SYSTEMS, TYPES
from jobs.errors import ClusterError, UsageError

dask_jobqueue = pytest.importorskip("dask_jobqueue", reason='the cluster tests need the "hpc" extra (test extra)')
pytest.importorskip("cryptography", reason='TLS needs the "hpc" extra (in the test extra)')

#: Keys every system shares, in the profile's words (dask-jobqueue's jobqueue.yaml) and as keyword arguments.
COMMON = {"cores": 8, "processes": 2, "memory": "16GiB", "interface": "lo", "local-directory": "/scratch/$USER"}

#: Per system: the profile's own keys (beside COMMON), and the directives only that system writes for them.
SYSTEM_OPTIONS = {
    "pbs": (
        {"queue": "debug", "account": "proj", "walltime": "00:30:00", "job-extra-directives": ["-l filesystems=home"]},
        ["#PBS -q debug", "#PBS -A proj", "#PBS -l select=1:ncpus=8:mem=16GB", "#PBS -l walltime=00:30:00"],
    ),
    "slurm": (
        {"queue": "regular", "account": "proj", "walltime": "00:30:00", "job-extra-directives": ["--constraint=cpu"]},
        [
            "#SBATCH -p regular",
            "#SBATCH -A proj",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --mem=16G",
            "#SBATCH -t 00:30:00",
        ],
    ),
    "lsf": (
        {"queue": "normal", "project": "proj", "walltime": "00:30", "lsf-units": "mb", "use-stdin": True},
        ["#BSUB -q normal", '#BSUB -P "proj"', "#BSUB -n 8", '#BSUB -R "span[hosts=1]"', "#BSUB -M 17180"],
    ),
    "sge": (
        {"queue": "all.q", "project": "proj", "walltime": "00:30:00", "resource-spec": "h_vmem=8G"},
        ["#$ -q all.q", "#$ -P proj", "#$ -l h_vmem=8G", "#$ -l h_rt=00:30:00", "#$ -cwd", "#$ -j y"],
    ),
    "htcondor": (
        {"disk": "4GiB", "job-extra-directives": {"+ProjectName": '"proj"'}, "submit-command-extra": ["-name", "s1"]},
        ["#!/usr/bin/env condor_submit", "RequestDisk = floor(MY.DaskWorkerDisk / 1024)", "Executable = /bin/sh"],
    ),
    "oar": (
        {"queue": "default", "project": "proj", "walltime": "00:30:00", "memory-per-core-property-name": "memcore"},
        [
            "#OAR -q default",
            "#OAR --project proj",
            "#OAR -l /nodes=1/core=8,walltime=00:30:00",
            "#OAR -p memcore>=2048",
        ],
    ),
    "moab": (
        {"queue": "batch", "account": "proj", "walltime": "00:30:00", "resource-spec": "nodes=1:ppn=8"},
        ["#PBS -q batch", "#PBS -A proj", "#PBS -l nodes=1:ppn=8", "#PBS -l walltime=00:30:00"],
    ),
}

#: Lines of every system's script that the test's own profile adds (HTCondor joins them into its Arguments).
PROLOGUE = ["export MALLOC_TRIM_THRESHOLD_=16777216", "module load python"]


def _normalised(script: str) -> str:
    """``script`` with only what is random from run to run replaced, each for a reason that makes it safe:

    - the scheduler's port: each cluster's scheduler listens on a free port of its own (port 0), and a
      real run writes its own scheduler's address into the script it submits;
    - the TLS files' names: dask-jobqueue writes the temporary certificate and key into files named by
      ``tempfile`` (random) in the cluster's shared temporary folder, which for imgjobs is a folder of
      each run's own, named ``.imgjobs-tls-RUN`` in ``--dry-run``'s script (checked apart, below);
    - imgjobs' closing comment on that folder (checked apart, below).
    """
    script = re.sub(r"tls://127\.0\.0\.1:\d+", "tls://127.0.0.1:<port>", script)
    script = re.sub(r"[^\s']*/\.dask-jobqueue\.worker\.(ca_file|cert|key)\.\w+", r"<tls \1>", script)
    return "\n".join(line for line in script.rstrip("\n").split("\n") if not _is_tls_note(line)) + "\n"


def _is_tls_note(line: str) -> bool:
    return line.startswith(("# .imgjobs-tls-RUN: a real run writes", "# its own there, "))


def _kwargs(options: dict) -> dict:
    return {k.replace("-", "_"): v for k, v in options.items()}


@pytest.fixture
def site(tmp_path):
    """The test's profile of a batch system: its built-in profile, with the options above over it."""

    def make(kind: str) -> dict:
        own, _ = SYSTEM_OPTIONS[kind]
        jq = {**COMMON, **own, "job-script-prologue": PROLOGUE[1:], "shared-temp-directory": str(tmp_path)}
        jq["scheduler-options"] = {"dashboard_address": ":0"}
        return {"type": kind, "jobqueue": jq, "lifetime": "40m", "lifetime-stagger": "4m"}

    return make


@pytest.mark.parametrize("kind", TYPES)
def test_each_batch_systems_job_script_is_the_one_dask_jobqueue_writes(tmp_path, site, kind):
    """imgjobs' script for a profile is dask-jobqueue's own for the same options, with the lifetime, TLS and
    malloc settings imgjobs adds (as keyword arguments of dask-jobqueue's own here), and each system's
    directives."""
    from distributed import Security

    own, directives = SYSTEM_OPTIONS[kind]
    with dask.config.set({"imgjobs.clusters.site": site(kind)}):  # beside the built-in profiles, as a user's file
        ours = job_script("site", tls=True)
        cluster, _, private = _make("site", True, check_commands=False)  # its jobs' submit and cancel commands
        try:
            job = cluster._dummy_job
            submit, cancel, stdin = job.submit_command, job.cancel_command, getattr(job, "use_stdin", None)
        finally:
            cluster.close()
            close_temporaries(cluster)
            if private:
                shutil.rmtree(private, ignore_errors=True)
    (tmp_path / "ref").mkdir()
    cls = getattr(dask_jobqueue, SYSTEMS[kind].cluster)
    theirs = cls(
        **_kwargs({**COMMON, **own}),
        job_name="imgjobs-worker",
        python=sys.executable,
        job_script_prologue=PROLOGUE,
        worker_extra_args=["--lifetime", "40m", "--lifetime-stagger", "4m"],  # the whole lifetime: no job's place
        security=Security.temporary(),
        shared_temp_directory=str(tmp_path / "ref"),
        scheduler_options={"dashboard_address": ":0"},
    )
    try:
        reference = theirs.job_script()
        ref_job = theirs._dummy_job
        assert (submit, cancel) == (ref_job.submit_command, ref_job.cancel_command), kind
        assert stdin == getattr(ref_job, "use_stdin", None)  # LSF: bsub < script, as the profile says
    finally:
        theirs.close()
        close_temporaries(theirs)
    assert _normalised(ours) == _normalised(reference), f"{kind}:\n{ours}\n---- dask-jobqueue's:\n{reference}"
    # what the normalisation hid is still right: TLS from files in the run's own folder, and a word on it
    tls = re.findall(r"--tls-(?:ca-file|cert|key) ([^\s']+)", ours)
    assert len(tls) == 3 and all(f.startswith(f"{tmp_path}/.imgjobs-tls-RUN/") for f in tls), ours
    assert sum(_is_tls_note(line) for line in ours.splitlines()) == 2
    # and what only this system writes, by name
    lines = ours.splitlines()
    for line in directives:
        assert line in lines, (kind, line, ours)
    assert "--lifetime 40m --lifetime-stagger 4m" in ours and "module load python" in ours
    assert "export MALLOC_TRIM_THRESHOLD_=16777216" in ours
    if kind == "htcondor":
        assert '+ProjectName = "proj"' in lines and "MY.DaskWorkerDisk = 4294967296" in lines
        assert "Queue" in lines
        assert submit.split() == ["condor_submit", "-name", "s1"]
    elif kind == "lsf":
        assert stdin is True


def test_the_built_in_profiles_are_one_per_batch_system_and_a_wrong_type_names_them():
    shipped = yaml.safe_load((ROOT / "configs" / "imgjobs.yaml").read_text())["imgjobs"]["clusters"]
    assert {name: p["type"] for name, p in shipped.items()} == {t: t for t in TYPES}
    comment = re.search(r"type: pbs +# the batch system: (.*) \(", (ROOT / "configs" / "imgjobs.yaml").read_text())
    assert comment and re.split(r", | or ", comment.group(1)) == list(TYPES)  # the comment lists every type
    for kind in TYPES:
        prof = profile(kind)  # each resolves: dask-jobqueue has every key it sets
        assert prof["type"] == kind and prof["jobqueue"]["cores"] >= 1
    profiles = {
        "ll": {"type": "loadleveler"},
        "nodisk": {"type": "htcondor", "jobqueue": {"disk": None}},
        "lsfkey": {"type": "lsf", "jobqueue": {"account": "p"}},  # LSF's is `project`
    }
    with dask.config.set({f"imgjobs.clusters.{name}": p for name, p in profiles.items()}):
        with pytest.raises(UsageError, match="type must be one of pbs, slurm, lsf, sge, htcondor, oar, moab"):
            profile("ll")
        with pytest.raises(UsageError, match=r"jobqueue.disk must be a size such as 64GiB, got None \(a htcondor"):
            profile("nodisk")
        with pytest.raises(UsageError, match="has no lsf option account"):
            profile("lsfkey")
    with pytest.raises(UsageError, match="copy the profile of your batch system, one of pbs, slurm, lsf"):
        profile("nowhere")


@pytest.mark.parametrize("kind", TYPES)
def test_each_batch_system_without_its_commands_is_refused_before_anything_is_submitted(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    job = getattr(dask_jobqueue, SYSTEMS[kind].cluster).job_cls
    with pytest.raises(ClusterError, match=f"{job.submit_command}, {job.cancel_command} is not on PATH"):
        _make(kind, False, check_commands=True)


#: How each batch system is asked about the run's jobs 123.srv and 124.srv (each system's own listing command).
STATUS = {
    "pbs": ["qstat", "123.srv", "124.srv"],
    "slurm": ["squeue", "--noheader", "-o", "%i %T %r", "-j", "123.srv,124.srv"],
    "lsf": ["bjobs", "-w", "123.srv", "124.srv"],
    "sge": ["qstat"],  # the user's jobs: the run's are picked out by id
    "htcondor": ["condor_q", "-nobatch", "123.srv", "124.srv"],
    "oar": ["oarstat", "-u"],
    "moab": ["showq"],
}


class _Job:
    def __init__(self, job_id):
        self.job_id = job_id


class _Cluster:
    """What ``_job_states`` reads of a cluster: its jobs' ids."""

    workers = {"c-0": _Job("123.srv"), "c-1": _Job("124.srv"), "c-2": _Job(None)}  # c-2: not submitted yet


@pytest.mark.parametrize("kind", TYPES)
def test_each_batch_system_is_asked_for_the_states_of_the_runs_jobs_only(tmp_path, monkeypatch, kind):
    """While a run waits for its first worker it says what the batch system says of its jobs: the system's own
    status command, given the run's job ids, or, where the command lists every job of the user's, only the
    lines of the run's jobs."""
    system = SYSTEMS[kind]
    called = tmp_path / "called"
    fake = tmp_path / system.status[0]
    # a listing of the run's two jobs and someone else's (999), as each system's command prints its jobs
    fake.write_text(
        f'#!/bin/bash\nprintf "%s\\n" "$@" > {called}\necho "JOBID STATE"\n'
        'echo "123.srv PENDING Resources"\necho "  124  queued  x"\necho "999 RUNNING other"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))  # the fake alone: not a real batch system this machine may have
    said = _job_states(_Cluster(), kind)
    args = [a for a in called.read_text().splitlines() if a]  # printf prints one empty line for no argument
    assert [system.status[0], *args] == STATUS[kind]
    if system.ids == "none":
        assert said == "123.srv PENDING Resources; 124 queued x"  # the other job's line is left out
    else:
        assert "123.srv PENDING Resources" in said and "124 queued x" in said
    fake.unlink()
    assert _job_states(_Cluster(), kind) == "job(s) 123.srv, 124.srv"  # no command: the ids


def test_each_batch_systems_section_of_the_docs_names_its_profile():
    text = (ROOT / "docs" / "clusters.md").read_text()
    for kind in TYPES:
        assert re.search(rf"^### .*`{kind}`", text, re.M), f"docs/clusters.md has no section for {kind}"


def test_a_profile_redefined_in_the_same_process_keeps_none_of_its_old_keys(site):
    """A notebook that runs a profile, then changes its type (OAR's ``project``, Moab's ``account``): the second
    script is the second profile's alone, not written from keys the first one left in dask's configuration."""
    with dask.config.set({"imgjobs.clusters.site": site("oar")}):
        assert "#OAR --project proj" in job_script("site")
    moab = site("moab")
    del moab["jobqueue"]["account"]
    with dask.config.set({"imgjobs.clusters.site": moab}), warnings.catch_warnings():
        warnings.simplefilter("error")  # dask-jobqueue warns of a `project` it finds in a PBS-like section
        script = job_script("site")
    assert "#PBS -A" not in script and "--project" not in script, script
