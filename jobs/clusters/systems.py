"""The batch systems of dask-jobqueue, one row each: what a profile's ``type`` names, and what imgjobs asks of it.

Everything that differs between batch systems, for imgjobs, is here: the
dask-jobqueue cluster class a ``type`` names (its ``jobqueue.<type>``
configuration section has the same name), the sizes a job of it must state, and
the command that tells what the batch system says of a run's jobs while the run
waits for its first worker.  The batch script itself, its directives and how it
is submitted and cancelled are dask-jobqueue's (its ``Job`` class of each system).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SYSTEMS", "TYPES", "System"]


@dataclass(frozen=True)
class System:
    """One batch system as a profile's ``type`` names it.

    Attributes
    ----------
    type : str
        The profile's ``type``, which is also dask-jobqueue's configuration
        section (``jobqueue.<type>``) and imgjobs' built-in profile of it.
    cluster : str
        The class of :mod:`dask_jobqueue` that submits its jobs.
    sizes : tuple of str
        ``jobqueue`` keys a job of it must give as a size (``64GiB``).
    status : tuple of str
        The command (on PATH) that lists jobs with their states.
    ids : str
        How the status command is given the run's job ids: ``"comma"`` (one
        argument, comma-separated, after the command), ``"args"`` (each an
        argument) or ``"none"`` (it lists the user's jobs, and only the lines
        whose first word is one of the run's job ids are kept).
    """

    type: str
    cluster: str
    sizes: tuple[str, ...]
    status: tuple[str, ...]
    ids: str

    def status_command(self, ids: list[str]) -> list[str]:
        """The command line that asks the batch system about jobs ``ids``."""
        if self.ids == "comma":
            return [*self.status, ",".join(ids)]
        if self.ids == "args":
            return [*self.status, *ids]
        return list(self.status)


#: Every batch system of dask-jobqueue, in the order people meet them.
SYSTEMS: dict[str, System] = {
    s.type: s
    for s in (
        System("pbs", "PBSCluster", ("memory",), ("qstat",), "args"),
        System("slurm", "SLURMCluster", ("memory",), ("squeue", "--noheader", "-o", "%i %T %r", "-j"), "comma"),
        System("lsf", "LSFCluster", ("memory",), ("bjobs", "-w"), "args"),
        System("sge", "SGECluster", ("memory",), ("qstat",), "none"),  # SGE's qstat lists the user's jobs
        System("htcondor", "HTCondorCluster", ("memory", "disk"), ("condor_q", "-nobatch"), "args"),
        System("oar", "OARCluster", ("memory",), ("oarstat", "-u"), "none"),
        System("moab", "MoabCluster", ("memory",), ("showq",), "none"),
    )
}

#: The types a profile may name.
TYPES = tuple(SYSTEMS)
