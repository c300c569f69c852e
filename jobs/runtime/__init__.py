"""The job runtime: one protocol for every job (plan -> tasks -> finalize, abort on failure).

:mod:`~jobs.runtime.engine` runs a :class:`Plan` (:func:`run`, :func:`execute`,
:func:`to_delayed`) and knows nothing of any particular job; around it, the
pieces every job uses: output files, locks and atomic writes
(:mod:`~jobs.runtime.files`), content stamps (:mod:`~jobs.runtime.stamps`),
where tasks run (:mod:`~jobs.runtime.schedulers`), the progress bar
(:mod:`~jobs.runtime.progress`) and the report (:mod:`~jobs.runtime.report`).
"""

from jobs.runtime.engine import Finish, Plan, execute, run, to_delayed

__all__ = ["Finish", "Plan", "execute", "run", "to_delayed"]
