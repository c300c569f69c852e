#!/usr/bin/env python3
"""The mutation check of imgjobs' guards: every promise has a mutant, and some test must kill it.

Each entry of :data:`MUTANTS` names a promise, one exact piece of source that
keeps it, what to put there instead (the guard gone or weakened), and the tests
that cover it.  The script applies one mutant at a time, runs only those tests,
and puts the file back (whatever happens, the file is restored from memory).
A mutant is *killed* when the tests fail; one that survives means a promise can
break with the suite green, and the script exits 1 naming it.

Each mutant's pytest is forked from this process once it has imported pytest and
the libraries (:data:`WARM`), which no mutant changes: only the project's own
modules are imported again, mutated.  With ``--jobs 2`` (the default on two cores
or more) two mutants run at once, each worker in a copy of the project of its
own, so that neither sees the other's mutated file.  A guard added later comes
with its mutant here.  CI runs the whole list (about two minutes on 2 cores)::

    python scripts/mutants.py              # every mutant
    python scripts/mutants.py --list       # what each one breaks
    python scripts/mutants.py -k lock      # those whose name contains "lock"
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Mutant:
    name: str  # the promise it breaks
    path: str  # the file, relative to the project root
    original: str  # exactly once in the file
    mutated: str
    tests: tuple  # pytest node ids or "file::-k expression"


INTEGRITY = "tests/test_integrity.py"
RR = "tests/test_rle_records.py"
BS = "tests/test_batch_systems.py"
ST = "tests/test_storage.py"
SO = "tests/test_storage_outputs.py"
MUTANTS = [
    # ---- no batch job outlives its run
    Mutant(
        "clusters: a cluster that fails to close leaves its jobs queued",
        "jobs/clusters/lifecycle.py",
        "subprocess.run([*shlex.split(cancel), job_id], capture_output=True, timeout=30, check=False)",
        "pass",
        ("tests/test_cluster.py::test_a_cluster_that_cannot_close_still_has_its_jobs_cancelled",),
    ),
    Mutant(
        "schedulers: a client that fails to close replaces the Ctrl-C (or the outcome) of the run",
        "jobs/schedulers.py",
        "            resource.close()\n        except Exception as e:",
        "            resource.close()\n        except ZeroDivisionError as e:",
        ("tests/test_cluster.py::test_a_client_that_cannot_close_never_replaces_what_the_run_stops_for",),
    ),
    Mutant(
        "cli: a Ctrl-C that lands in a garbage-collector callback is ignored and the run goes on",
        "jobs/cli/signals.py",
        "    resend.start()",
        "    pass",
        ("tests/test_hostile.py::-k lands_where and 2-130 and gc",),
    ),
    Mutant(
        "dashboard: a cluster's link ignores distributed.dashboard.link (a JupyterHub proxy)",
        "jobs/clusters/dashboard.py",
        "    return format_dashboard_link(host, port)",
        '    return f"http://{host}:{port}/status"',
        ("tests/test_cli.py::-k honours_the_template",),
    ),
    Mutant(
        "study: an Amdahl fit with a negative parallel time is reported as a result",
        "jobs/study/fits.py",
        "        if self.parallel_s <= 0:",
        "        if False:",
        ("tests/test_study.py::-k noise_dominates",),
    ),
    Mutant(
        "cli: distributed's connection pool closing after SIGTERM prints a traceback",
        "jobs/cli/logs.py",
        "    return not (isinstance(exc, asyncio.CancelledError) or closing or gone)",
        "    return not (isinstance(exc, asyncio.CancelledError) or gone)",
        ("tests/test_cli.py::test_a_handler_cancelled_while_the_scheduler_closes_logs_no_traceback",),
    ),
    Mutant(
        "cli: an unwritable --report is found only after the run",
        "jobs/cli/command.py",
        '    check_report_path(args.report, claims, "the JSON report", "--report", _is_json_report)',
        "    pass",
        ("tests/test_cli.py::-k json_report",),
    ),
    Mutant(
        "cli: a handler cancelled while the scheduler closes prints a traceback after Ctrl-C",
        "jobs/cli/logs.py",
        "    return not (isinstance(exc, asyncio.CancelledError) or closing or gone)",
        "    return not (closing or gone)",
        ("tests/test_cli.py::test_a_handler_cancelled_while_the_scheduler_closes_logs_no_traceback",),
    ),
    Mutant(
        "clusters: a failure to close replaces the error (or Ctrl-C) the run stops for",
        "jobs/clusters/lifecycle.py",
        "    except Exception as e:\n        jobs.update(_submitted(cluster))",
        "    except ZeroDivisionError as e:\n        jobs.update(_submitted(cluster))",
        ("tests/test_cluster.py::test_a_cluster_that_cannot_close_still_has_its_jobs_cancelled",),
    ),
    Mutant(
        "registry: another package's job replaces a built-in one by taking its name",
        "jobs/registry.py",
        "        if spec.name in taken or spec.name in RESERVED:",
        "        if spec.name in RESERVED:",
        ("tests/test_registry.py::-k entry_point",),
    ),
    Mutant(
        "registry: one broken plugin stops every command",
        "jobs/registry.py",
        "        except (Exception, SystemExit) as e:",
        "        except SystemExit as e:",
        ("tests/test_registry.py::-k entry_point",),
    ),
    Mutant(
        "compress: it plans and runs without its output directory's lock",
        "jobs/rle_job/api.py",
        "    writes = output_dir(where.src, where.dst)\n\n"
        "    def plan(parallelism: int, map: Mapper | None = None) -> Plan:\n        return plan_compress(",
        "    writes = None\n\n    def plan(parallelism: int, map: Mapper | None = None) -> Plan:\n"
        "        return plan_compress(",
        ("tests/test_registry.py::-k locked and compress",),
    ),
    Mutant(
        "decompress: it plans and runs without its output directory's lock",
        "jobs/rle_job/api.py",
        "    writes = output_dir(where.src, where.dst)\n\n"
        "    def plan(parallelism: int, map: Mapper | None = None) -> Plan:\n        return plan_decompress(",
        "    writes = None\n\n    def plan(parallelism: int, map: Mapper | None = None) -> Plan:\n"
        "        return plan_decompress(",
        ("tests/test_registry.py::-k locked and decompress",),
    ),
    Mutant(
        "resize: it plans and runs without its output directory's lock",
        "jobs/resize_job/api.py",
        "        writes=os.path.dirname(os.path.abspath(local)),",
        "        writes=None,",
        ("tests/test_registry.py::-k locked and resize",),
    ),
    Mutant(
        "stats: it plans and runs without its output directory's lock",
        "jobs/stats_job/api.py",
        "        writes=os.path.dirname(os.path.abspath(os.fspath(out))),",
        "        writes=None,",
        ("tests/test_registry.py::-k locked and stats",),
    ),
    # ---- nothing stale called current
    Mutant(
        "resize: changed images are not seen (stamps ignored)",
        "jobs/resize_job/rerun.py",
        "enumerate(zip(slices, now, strict=True)) if was != stamp}",
        "enumerate(zip(slices, now, strict=True)) if False}",
        (f"{INTEGRITY}::test_an_image_changed_in_place_redoes_only_its_slice",),
    ),
    Mutant(
        "resize: a label change is not seen",
        "jobs/resize_job/rerun.py",
        'if sidecar["labels_digest"] != labels_id:',
        "if False:",
        (f"{INTEGRITY}::test_a_fixed_label_rewrites_the_labels_without_decoding",),
    ),
    Mutant(
        "resize: a damaged batch is called current",
        "jobs/resize_job/stores.py",
        "    if size != want:\n",
        "    if False:\n",
        (f"{INTEGRITY}::test_deleted_labels_or_a_truncated_batch_are_rebuilt_never_current",),
    ),
    Mutant(
        "resize: a resumed run keeps slices whose images changed",
        "jobs/resize_job/rerun.py",
        "        if stamp != d.stamp:\n            changed.append((d.start, d.stop))",
        "        if False:\n            changed.append((d.start, d.stop))",
        (f"{INTEGRITY}::test_an_interrupted_run_redoes_the_slices_whose_images_changed",),
    ),
    Mutant(
        "resize: the identity forgets the list order",
        "jobs/resize_job/listed.py",
        '            joined = "\\0".join(paths)',
        '            joined = "\\0".join(sorted(paths))',
        (f"{INTEGRITY}::test_the_identity_covers_list_order_and_limits",),
    ),
    Mutant(
        "resize: max_pixels left out of the identity",
        "jobs/resize_job/target.py",
        "fraction, opts.max_pixels]",
        "fraction]",
        (f"{INTEGRITY}::test_the_identity_covers_list_order_and_limits",),
    ),
    Mutant(
        "compress: an output without a record of what made it is trusted (issue 31)",
        "jobs/rle_job/currency.py",
        '        return "no record of what made it (made by hand',
        '        return None  # "no record of what made it (made by hand',
        (f"{INTEGRITY}::test_compress_redoes_outputs_without_a_record_and_says_why",),
    ),
    # ---- every entry point guarded
    Mutant(
        "runtime: a job plans without its output directory's lock",
        "jobs/runtime/engine.py",
        "    held = lock_dir is not None and os.path.isdir(lock_dir)",
        "    held = False",
        ("tests/test_registry.py::-k locked",),
    ),
    Mutant(
        "options: a misspelt option is dropped silently (the default runs instead)",
        "jobs/params.py",
        "        if unknown:\n",
        "        if False:\n",
        ("tests/test_registry.py::test_a_misspelt_option_is_an_error_from_every_entry_point",),
    ),
    Mutant(
        "graph: its finishing step takes no lock",
        "jobs/runtime/engine.py",
        "    with finish.lock():\n        finish.recheck()",
        "    with contextlib.nullcontext():\n        finish.recheck()",
        ("tests/test_registry.py::test_the_example_job_gets_compute_false_and_the_lock",),
    ),
    Mutant(
        "api: a closed client= is used as if open",
        "jobs/running.py",
        '    if status != "running":',
        "    if False:",
        (f"{INTEGRITY}::test_bad_option_types_and_closed_clients_are_clear_errors",),
    ),
    Mutant(
        "running: an unwritable --performance-report is found only after the run",
        "jobs/running.py",
        "        check_report_path(\n            options.performance_report, claims,",
        "        (lambda *a: None)(\n            options.performance_report, claims,",
        ("tests/test_hostile.py::test_odd_output_paths_are_refused_before_anything_runs",),
    ),
    Mutant(
        "stats: an existing CSV is replaced without --overwrite",
        "jobs/stats_job/planner.py",
        "    if os.path.lexists(out) and not opts.overwrite:",
        "    if False:",
        ("tests/test_registry.py::test_the_example_job_names_a_bad_file_and_refuses_what_it_must",),
    ),
    Mutant(
        "stats: a graph replaces a CSV that appeared since it was planned",
        "jobs/stats_job/planner.py",
        "        if out_stamp(self.out) != self.expect:",
        "        if False:",
        ("tests/test_registry.py::test_a_stats_graph_never_replaces_a_csv_that_appeared_since_it_was_planned",),
    ),
    Mutant(
        "clusters: the jobs a cluster had before a failed close are not cancelled",
        "jobs/clusters/lifecycle.py",
        "    jobs = _submitted(cluster)\n    try:",
        "    jobs = {}\n    try:",
        ("tests/test_cluster.py::test_a_cluster_that_cannot_close_still_has_its_jobs_cancelled",),
    ),
    Mutant(
        "clusters: one cancel that fails leaves the other jobs queued",
        "jobs/clusters/lifecycle.py",
        "            except (OSError, subprocess.SubprocessError) as err:",
        "            except ZeroDivisionError as err:",
        ("tests/test_cluster.py::test_a_cluster_that_cannot_close_still_has_its_jobs_cancelled",),
    ),
    Mutant(
        "clusters: the run's private TLS key is left behind",
        "jobs/clusters/lifecycle.py",
        "                shutil.rmtree(private, ignore_errors=True)  # the TLS key among them",
        "                pass",
        ("tests/test_cluster.py::-k stopped_by_a_signal",),
    ),
    Mutant(
        "cli: Ctrl-C before a sync call started prints distributed's NameError traceback",
        "jobs/cli/logs.py",
        "    return not (isinstance(exc, NameError) and \"'future'\" in str(exc)"
        ' and "sync.<locals>.cancel" in record.getMessage())',
        "    return True",
        ("tests/test_cli.py::test_an_interrupted_sync_of_distributed_logs_no_traceback",),
    ),
    Mutant(
        "graph: its tasks take no lock",
        "jobs/runtime/engine.py",
        "    with finish.lock(shared=not exclusive):\n        return func(*args)",
        "    return func(*args)",
        (f"{INTEGRITY}::test_a_graph_computed_while_a_run_holds_the_directory_waits_its_turn",),
    ),
    Mutant(
        "lock: flock is never taken",
        "jobs/runtime/locks.py",
        "                fcntl.flock(fd, (fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)",
        "                pass",
        (
            "tests/test_hostile.py::test_a_second_run_into_the_same_place_is_refused_and_harms_nothing",
            f"{INTEGRITY}::test_compress_graph_tasks_take_the_lock",
        ),
    ),
    Mutant(
        "graph: the first task does not check the output is as planned",
        "jobs/resize_job/tasks.py",
        "if out_stamp(where.out) != where.expect_out:",
        "if False:",
        (f"{INTEGRITY}::test_a_graph_computed_twice_ends_as_a_fresh_run_or_with_a_clear_error",),
    ),
    Mutant(
        "graph: finalize believes the plan, not the records",
        "jobs/resize_job/target.py",
        "        if pos != self.n:\n",
        "        if False:\n",
        (f"{INTEGRITY}::test_finalize_reads_what_is_finished_from_the_records_not_the_plan",),
    ),
    Mutant(
        "task: fill writes into a work folder another run owns",
        "jobs/resize_job/tasks.py",
        "    seen = _load_into(block, paths, opts, outcomes)\n    where.check_owner()\n",
        "    seen = _load_into(block, paths, opts, outcomes)\n",
        (f"{INTEGRITY}::test_a_task_never_writes_into_a_work_folder_another_run_took_over",),
    ),
    # ---- nothing deleted that a run did not write
    Mutant(
        "overwrite: a zarr holding other files is removed",
        "jobs/resize_job/stores.py",
        "        foreign = _zarr_foreign(out)\n        if foreign:",
        "        foreign = _zarr_foreign(out)\n        if False:",
        (f"{INTEGRITY}::test_overwrite_of_a_zarr_holding_other_files_is_refused_and_removes_nothing",),
    ),
    Mutant(
        "outputs: a batch named like an input is written over it",
        "jobs/resize_job/checks.py",
        "            hit = named.get(os.path.abspath(p))\n            if hit:\n",
        "            hit = named.get(os.path.abspath(p))\n            if False:\n",
        ("tests/test_scale.py::-k names_an_output",),
    ),
    # ---- state files are untrusted
    Mutant(
        "done records: another run's token is believed",
        "jobs/resize_job/records.py",
        'if not isinstance(record, dict) or record.get("token") != token or record.get("identity") != identity:',
        "if not isinstance(record, dict):",
        (f"{INTEGRITY}::test_forged_and_overlapping_done_records_are_not_believed",),
    ),
    Mutant(
        "done records: overlapping slices are believed",
        "jobs/resize_job/records.py",
        "        if d.start < end:\n",
        "        if False:\n",
        (f"{INTEGRITY}::test_forged_and_overlapping_done_records_are_not_believed",),
    ),
    Mutant(
        "sidecar: a labels path elsewhere is followed",
        "jobs/resize_job/sidecar.py",
        'if not isinstance(file, str) or file != os.path.basename(file) or file in ("", ".", ".."):',
        "if not isinstance(file, str):",
        (f"{INTEGRITY}::test_a_sidecar_never_sends_labels_elsewhere",),
    ),
    Mutant(
        "sidecar: a sidecar of the wrong shape is trusted",
        "jobs/resize_job/sidecar.py",
        '    if not isinstance(sidecar.get("identity"), str):\n        return "no identity"\n',
        "",
        (f"{INTEGRITY}::test_a_sidecar_with_one_field_wrong_is_named_damaged",),
    ),
    # ---- damaged inputs fail by name
    Mutant(
        "jpeg: damage is patched silently",
        "jobs/resize_job/decode.py",
        "min_factor=scale, strict=True)",
        "min_factor=scale, strict=False)",
        ("tests/test_resize.py::test_damaged_jpegs_fail_by_name_with_the_decoders_reason",),
    ),
    Mutant(
        "jpeg: a header larger than its data is decoded",
        "jobs/resize_job/decode.py",
        "    if len(data) * 8 < blocks:",
        "    if False:",
        ("tests/test_resize.py::test_damaged_jpegs_fail_by_name_with_the_decoders_reason",),
    ),
    Mutant(
        "exif: orientation 6 turned the wrong way",
        "jobs/resize_job/geometry.py",
        "TRANSPOSE: dict = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}",
        "TRANSPOSE: dict = {2: 0, 3: 3, 4: 1, 5: 5, 6: 2, 7: 6, 8: 4}",
        ("tests/test_resize.py::-k exif or orientation",),
    ),
    # ---- labels
    Mutant(
        "labels: a negative label is accepted (it equals the failure marker)",
        "jobs/resize_job/listlabels.py",
        "            if not 0 <= v < 2**63:",
        "            if not v < 2**63:",
        (f"{INTEGRITY}::test_labels_cannot_collide_with_the_failure_marker_or_overflow",),
    ),
    Mutant(
        "labels: an empty class folder shifts the indices",
        "jobs/resize_job/source.py",
        "            empty.append(folder)\n    if not paths:\n        return Source([])",
        "            empty.append(folder)\n    if not paths:\n        return Source([])\n"
        "    kept = sorted(set(labels))\n"
        "    labels = [kept.index(x) for x in labels]\n"
        "    folders = [folders[k] for k in kept]",
        (f"{INTEGRITY}::test_an_empty_class_folder_keeps_every_index",),
    ),
    Mutant(
        "lists: a byte-order mark is part of the first path",
        "jobs/resize_job/listed.py",
        "    if offset == 0 and data.startswith(_BOM):",
        "    if False:",
        (f"{INTEGRITY}::test_a_list_with_a_byte_order_mark_reads_its_first_entry",),
    ),
    # ---- durable, atomic writes
    Mutant(
        "resize lists: a name ending in a space and a number is a label in a list whose other lines have none",
        "jobs/resize_job/listed.py",
        "        if kinds is not None and 0 <= kinds.spaced < end and 0 <= kinds.bare < end:",
        "        if False:",
        ("tests/test_resize_lists.py::-k name_ending or documented",),
    ),
    Mutant(
        "resize lists: a task's range is parsed with spaces as labels whatever the scan decided",
        "jobs/resize_job/listed.py",
        "parse(data, self.base, self.listed.path, self.begin, self.spaced)",
        "parse(data, self.base, self.listed.path, self.begin)",
        ("tests/test_resize_lists.py::-k name_ending",),
    ),
    Mutant(
        "resize lists: a line ended by a TAB (no label) is labelled by its last number",
        "jobs/resize_job/listed.py",
        '    return "\\t" in text or "\\t" in line[len(line.rstrip()) :]',
        '    return "\\t" in text',
        ("tests/test_resize_lists.py::-k name_ending",),
    ),
    Mutant(
        "resize lists: the refusal of another job's output does not say the list only grew, nor how to add to it",
        "jobs/resize_job/rerun.py",
        "        grown = was < now and recorded == found.prefix_digest(was)",
        "        grown = False",
        ("tests/test_resize_lists.py::-k fact_that_differs",),
    ),
    Mutant(
        "resize lists: the refusal of another job's output does not name the size, fit or method that differ",
        "jobs/resize_job/rerun.py",
        "        if old != new and (new is not None or old is not None):",
        "        if False:",
        ("tests/test_resize_lists.py::-k fact_that_differs",),
    ),
    Mutant(
        "atomic writes: the temporary is the final name",
        "jobs/runtime/durable.py",
        "    tmp = temp_path(dst, token, new_token()[:6])",
        "    tmp = dst",
        ("tests/test_hostile.py::test_a_writer_killed_mid_write_leaves_nothing_under_the_final_name",),
    ),
    # ---- found by a hostile review
    Mutant(
        "resize: a batch replaced since it was built is called current",
        "jobs/resize_job/rerun.py",
        '    if not damage and output_stamp(out, recorded_mode) != sidecar["outputs"]["batch"]:',
        "    if False:",
        (f"{INTEGRITY}::test_a_batch_or_labels_replaced_since_the_build_are_never_current",),
    ),
    Mutant(
        "resize: a labels file edited since it was built is called current",
        "jobs/resize_job/rerun.py",
        '            if output_stamp(labels_path(out), recorded_mode) != sidecar["outputs"]["labels"]:',
        "            if False:",
        (f"{INTEGRITY}::test_a_batch_or_labels_replaced_since_the_build_are_never_current",),
    ),
    Mutant(
        "sidecar: failures it lists are believed without looking at the slots",
        "jobs/resize_job/rerun.py",
        '    if not damage and _failed_slots_not_zero(out, [f["index"] for f in sidecar["failed"]]):',
        "    if False:",
        (f"{INTEGRITY}::test_forged_sidecar_labels_or_failures_are_not_believed",),
    ),
    Mutant(
        "done records: a slice no task wrote is believed",
        "jobs/resize_job/rerun.py",
        "        elif not where.wds and not stores.slice_written(",
        "        elif False and not stores.slice_written(",
        (f"{INTEGRITY}::test_a_done_record_for_a_slice_no_task_wrote_is_not_believed",),
    ),
    Mutant(
        "work folder: files imgjobs did not write there are removed",
        "jobs/resize_job/stores.py",
        "    foreign = work_foreign(work)\n    if foreign:",
        "    foreign = work_foreign(work)\n    if False:",
        ("tests/test_training_sets.py::test_a_file_added_to_the_work_folder_after_planning_is_never_removed",),
    ),
    Mutant(
        "work folder: a work folder holding foreign entries is found only after the work",
        "jobs/resize_job/planner.py",
        "        foreign = stores.work_foreign(work)\n        if foreign:",
        "        foreign = stores.work_foreign(work)\n        if False:",
        ("tests/test_training_sets.py::test_an_entry_of_the_work_folder_that_is_not_ours_is_refused_before_any_work",),
    ),
    Mutant(
        "outputs: an input under another name (a link, a linked folder) is written over",
        "jobs/resize_job/checks.py",
        "        if why:\n            return p, why",
        "        if False:\n            return p, why",
        (
            f"{INTEGRITY}::test_a_zarr_inside_its_source_tree_and_aliased_inputs_are_refused",
            f"{INTEGRITY}::test_an_input_inside_the_output_store_is_refused",
        ),
    ),
    Mutant(
        "graph: computed after its inputs changed, it reports them current",
        "jobs/resize_job/finish.py",
        "        if self.replan(self.source, self.out, self.opts).current is None:",
        "        if False:",
        (f"{INTEGRITY}::test_a_graph_computed_after_its_inputs_changed_says_so",),
    ),
    Mutant(
        "graph: images a plan keeps are not checked again when it runs",
        "jobs/resize_job/finish.py",
        "        if changed:\n            raise StalePlan(",
        "        if False:\n            raise StalePlan(",
        (f"{INTEGRITY}::test_a_graph_computed_after_its_inputs_changed_says_so",),
    ),
    Mutant(
        "compress: an input replaced by an older file is not seen",
        "jobs/rle_job/currency.py",
        '    if not made_from.startswith(b"%d:" % st.st_size) or made_from != _stamp_now(',
        "    if False and made_from != _stamp_now(",
        (f"{INTEGRITY}::test_compress_sees_an_input_replaced_by_an_older_file",),
    ),
    Mutant(
        "cli: control characters in log lines reach the terminal",
        "jobs/cli/logs.py",
        "        return printable(super().formatMessage(record))",
        "        return super().formatMessage(record)",
        (f"{INTEGRITY}::test_names_with_control_characters_never_start_a_line_and_nul_is_named",),
    ),
    # ---- clusters
    Mutant(
        "tls: the clusters imgjobs starts run without TLS by default",
        "configs/imgjobs.yaml",
        "    tls: true                  # TLS on the clusters",
        "    tls: false                 # TLS on the clusters",
        ("tests/test_cluster.py::-k stopped_by_a_signal",),
    ),
    Mutant(
        "batch systems: a profile of an unknown type is taken (and fails deep in dask-jobqueue)",
        "jobs/clusters/profiles.py",
        "    if kind not in TYPES:",
        "    if False:",
        (f"{BS}::test_the_built_in_profiles_are_one_per_batch_system_and_a_wrong_type_names_them",),
    ),
    Mutant(
        "batch systems: an HTCondor profile without a disk size is taken (dask-jobqueue's error, no profile named)",
        "jobs/clusters/profiles.py",
        "    for key in SYSTEMS[kind].sizes:",
        '    for key in ("memory",):',
        (f"{BS}::test_the_built_in_profiles_are_one_per_batch_system_and_a_wrong_type_names_them",),
    ),
    Mutant(
        "batch systems: every type gets PBS's cluster class",
        "jobs/clusters/profiles.py",
        "    cls: type = getattr(dask_jobqueue, SYSTEMS[kind].cluster)",
        "    cls: type = dask_jobqueue.PBSCluster",
        (f"{BS}::-k job_script_is_the_one",),
    ),
    Mutant(
        "batch systems: a profile redefined in one process keeps another type's keys (Moab charged to OAR's project)",
        "jobs/clusters/profiles.py",
        '    dask.config.config.get("jobqueue", {}).pop(config_name, None)\n',
        "",
        (f"{BS}::test_a_profile_redefined_in_the_same_process_keeps_none_of_its_old_keys",),
    ),
    Mutant(
        "batch systems: a status command that lists every job of the user's shows other runs' jobs",
        "jobs/clusters/lifecycle.py",
        "    if system.ids == \"none\":  # it lists every job of the user's: the run's own, by their ids",
        "    if False:",
        (f"{BS}::-k states_of_the_runs_jobs_only",),
    ),
    Mutant(
        "batch systems: the status command is given the job ids one way for every system",
        "jobs/clusters/systems.py",
        '        if self.ids == "comma":',
        "        if True:",
        (f"{BS}::-k states_of_the_runs_jobs_only",),
    ),
    Mutant(
        "adaptive: --jobs MIN:MAX never grows above MIN",
        "jobs/clusters/lifecycle.py",
        "        cluster.adapt(minimum_jobs=least, maximum_jobs=most)",
        "        cluster.adapt(minimum_jobs=least, maximum_jobs=least)",
        ("tests/test_cluster.py::-k adaptive_cluster_grows",),
    ),
    Mutant(
        "adaptive: the first MAX jobs' lifetimes are staggered as if there were only MIN (they retire together)",
        "jobs/clusters/lifecycle.py",
        "    cluster, prof, private = _make(name, tls, check_commands=True, jobs=most)",
        "    cluster, prof, private = _make(name, tls, check_commands=True, jobs=least)",
        ("tests/test_cluster.py::-k adaptive_cluster_grows",),
    ),
    Mutant(
        "jobs: --jobs 0:0 (no job ever) is taken",
        "jobs/cliargs.py",
        "or min(whole) < 1 or",
        "or min(whole) < 0 or",
        ("tests/test_cluster.py::-k n_or_min_max",),
    ),
    Mutant(
        "jobs: --jobs 4:1 (MIN over MAX) is taken",
        "jobs/cliargs.py",
        " or whole[0] > whole[-1]:",
        ":",
        ("tests/test_cluster.py::-k n_or_min_max",),
    ),
    Mutant(
        "jobs: --jobs 1:2:3 is taken as 1:3",
        "jobs/cliargs.py",
        "    if len(parts) not in (1, 2) or",
        "    if",
        ("tests/test_cluster.py::-k n_or_min_max",),
    ),
    Mutant(
        "jobs: a wrong imgjobs.scheduler.jobs is not named with where it was set",
        "jobs/options.py",
        '        raise ConfigError(f"jobs: {e} (imgjobs.{key}, from {config.source(key)})") from None',
        '        raise UsageError(f"jobs: {e}") from None',
        ("tests/test_cluster.py::-k n_or_min_max",),
    ),
    Mutant(
        "job count: a replacement, named as the job it replaces, is not counted as another batch job",
        "jobs/clusters/lifecycle.py",
        '        job_id = str(getattr(job, "job_id", None) or f"worker {name}")',
        "        job_id = name",
        ("tests/test_cluster.py::-k job_count_tells",),
    ),
    Mutant(
        "job count: a job of several worker processes counts as several batch jobs",
        "jobs/clusters/lifecycle.py",
        '        job = jobs.get(name) or jobs.get(name.rsplit("-", 1)[0])',
        "        job = jobs.get(name)",
        ("tests/test_cluster.py::-k job_count_tells",),
    ),
    Mutant(
        "job count: a job whose workers left still counts as running (at most at once is all of them)",
        "jobs/clusters/lifecycle.py",
        "            self._live[job_id] -= 1",
        "            self._live[job_id] -= 0",
        ("tests/test_cluster.py::-k job_count_tells",),
    ),
    Mutant(
        "job count: the batch jobs that ran are not in the report",
        "jobs/runtime/engine.py",
        "            report.usage = list(counted()) if counted else []",
        "            report.usage = []",
        ("tests/test_cluster.py::-k adaptive_cluster_grows",),
    ),
    Mutant(
        "job count: the summary does not say how many batch jobs ran",
        "jobs/cli/command.py",
        "            print(used.line())",
        "            pass",
        ("tests/test_cluster.py::-k adaptive_cluster_grows",),
    ),
    # ---- the codec
    # ---- training sets (issue 20): fits, shards, the same pixels at inference
    Mutant(
        "fits: pad leaves the letterbox unfilled (whatever memory held)",
        "jobs/resize_job/geometry.py",
        "    canvas[...] = np.asarray(fill, dtype=np.uint8)\n",
        "",
        ("tests/test_training_sets.py::-k each_fit_equals",),
    ),
    Mutant(
        "fits: a batch of another fit is taken for this job (nothing stale called current)",
        "jobs/resize_job/target.py",
        '    if opts.fit != "stretch":  # stretch batches',
        "    if False:  # stretch batches",
        ("tests/test_training_sets.py::test_fit_options_are_checked_recorded_and_part_of_the_job",),
    ),
    Mutant(
        "shards: a half-written shard of a killed task is moved into the output",
        "jobs/resize_job/finish.py",
        "            sweep_temporaries(w.target, every=True, also=lambda name: ours_temporary(name) is not None)",
        "            pass",
        ("tests/test_training_sets.py::test_a_shard_half_written_when_its_task_was_killed_never_reaches_the_output",),
    ),
    Mutant(
        "shards: --overwrite removes a user's files inside a .wds directory",
        "jobs/resize_job/shards.py",
        "        if not ours or entry.is_symlink() or not entry.is_file(follow_symlinks=False):",
        "        if False:",
        ("tests/test_training_sets.py::-k users_file_named_like_a_shard",),
    ),
    Mutant(
        "shards: changed labels leave the old .cls in the shards, called current",
        "jobs/resize_job/rerun.py",
        "            changed = set(range(len(slices)))  # every shard carries its samples' labels",
        "            pass",
        ("tests/test_training_sets.py::test_changed_labels_rewrite_the_shards_that_carry_them",),
    ),
    Mutant(
        "shards: a shard missing from a finished .wds is called current",
        "jobs/resize_job/shards.py",
        '            return f"its shard {name} is missing"',
        "            continue",
        ("tests/test_training_sets.py::test_a_damaged_shard_directory_is_named_and_rebuilt",),
    ),
    Mutant(
        "inference: an option that contradicts the batch is used instead of refused",
        "jobs/resize_job/inference.py",
        "            if wanted is not None and getattr(wanted, key) != getattr(built, key):",
        "            if False:",
        ("tests/test_training_sets.py::test_preprocess_refuses_contradictions_and_warns_on_other_libraries",),
    ),
    Mutant(
        "inference: other library versions go unmentioned",
        "jobs/resize_job/libraries.py",
        "    return [f\"{k} {recorded.get(k, '?')} -> {v}\" for k, v in now.items() if recorded.get(k) != v]",
        "    return []",
        (
            "tests/test_training_sets.py::test_preprocess_refuses_contradictions_and_warns_on_other_libraries",
            "tests/test_training_sets.py::test_a_rerun_under_other_libraries_says_so",
        ),
    ),
    Mutant(
        "sidecar: library versions of any shape are believed",
        "jobs/resize_job/sidecar.py",
        "    if made is not None and not (isinstance(made, list) and len(made) <= 64 and all(map(is_libraries, made)))"
        ":",
        "    if False:",
        ("tests/test_training_sets.py::test_a_rerun_under_other_libraries_says_so",),
    ),
    Mutant(
        "shards: a resume keeps shards whose labels the list no longer gives",
        "jobs/resize_job/rerun.py",
        '        if recorded.get("labels") != where.labels_id:',
        "        if False:",
        (
            "tests/test_training_sets.py::test_relabelling_between_a_kill_and_a_resume_never_keeps_the_old_labels_in_shards",
        ),
    ),
    Mutant(
        "shards: a resume trusts a shard cut short, appended to or swapped",
        "jobs/resize_job/rerun.py",
        "            ignored += 1  # a shard missing, cut short, appended to or swapped: redone",
        "            kept.append(d)",
        ("tests/test_training_sets.py::-k resume_redoes_shards_damaged",),
    ),
    Mutant(
        "shards: the finish renames shards that do not hold their slices into place",
        "jobs/resize_job/finish.py",
        "            self._check_shards(done)",
        "            pass",
        ("tests/test_training_sets.py::test_a_finish_refuses_shards_changed_while_the_job_ran",),
    ),
    Mutant(
        "fits: a reduced decode of a mirrored photo crops a shifted region",
        "jobs/resize_job/decode.py",
        "                    x0, y0, x1, y1 = stored_box(box, orientation, im.size)",
        "                    x0, y0, x1, y1 = box if orientation in (1, 5) else stored_box(box, 1, im.size)",
        ("tests/test_training_sets.py::-k every_orientation_crops",),
    ),
    Mutant(
        "fits: a crop narrower than the decode scale is an empty slice (an OpenCV error)",
        "jobs/resize_job/geometry.py",
        "    return a, max(a + 1, min(limit, (2 * hi + scale) // (2 * scale)))",
        "    return a, min(limit, (2 * hi + scale) // (2 * scale))",
        ("tests/test_training_sets.py::test_a_crop_narrower_than_the_decode_scale_is_never_empty",),
    ),
    Mutant(
        "libraries: slices of unknown versions kept in a reopened batch vanish from its sidecar",
        "jobs/resize_job/finish.py",
        "            if libraries not in made:",
        "            if libraries and libraries not in made:",
        ("tests/test_training_sets.py::test_kept_slices_of_unknown_versions_are_named_in_a_reopened_batch",),
    ),
    Mutant(
        "report: --report (or --performance-report) overwrites an input or an output",
        "jobs/running.py",
        "        if full == claimed or full.startswith(claimed.rstrip(os.sep) + os.sep):",
        "        if False:",
        ("tests/test_training_sets.py::-k json_report_never_takes",),
    ),
    Mutant(
        "state: a FIFO as a sidecar hangs the run",
        "jobs/runtime/reads.py",
        '    with os.fdopen(_open_regular(path), "rb") as f:',
        "    with open(path, 'rb') as f:",
        ("tests/test_training_sets.py::-k fifo_or_deep",),
    ),
    Mutant(
        "pools: worker processes are forked while another thread runs (a lock it holds stays held there)",
        "jobs/runtime/pools.py",
        "    if others:",
        "    if False:",
        ("tests/test_runtime.py::-k forked_only_where",),
    ),
    Mutant(
        "schedulers: imgjobs' workers replace the pool or initializer Dask's configuration names",
        "jobs/runtime/runners.py",
        "    configured = [k for k in _DASK_POOL_KEYS if dask.config.get(k, None) is not None]",
        "    configured = []",
        ("tests/test_runtime.py::-k forked_only_where",),
    ),
    Mutant(
        "pools: worker processes outlive a killed run (forked ones holding its output's lock)",
        "jobs/runtime/pools.py",
        "    if prctl is not None and prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:",
        "    if False:",
        ("tests/test_runtime.py::-k die_with_a_killed_run",),
    ),
    Mutant(
        "rle currency: an output changed after its task wrote it is called current",
        "jobs/rle_job/currency.py",
        '    if written != (written_stamp(ost) if b":i" in written else stat_stamp_bytes(',
        '    if False and (written_stamp(ost) if b":i" in written else stat_stamp_bytes(',
        ("tests/test_runtime.py::-k later_change_is_redone",),
    ),
    Mutant(
        "lock: a link named like the lock file is followed, and what it points to overwritten",
        "jobs/runtime/locks.py",
        "        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK",
        "        flags = os.O_RDWR | os.O_CREAT | os.O_NONBLOCK",
        ("tests/test_state_places.py::-k changed_after and link",),
    ),
    Mutant(
        "lock: a FIFO or a directory as the lock file gives a bare OS error",
        "jobs/runtime/locks.py",
        "        if not stat.S_ISREG(st.st_mode):\n            os.close(fd)\n            raise refusal(",
        "        if False:\n            os.close(fd)\n            raise refusal(",
        ("tests/test_state_places.py::-k changed_after and fifo",),
    ),
    # ---- state places: a directory, link or FIFO where a job keeps state is refused before any work
    Mutant(
        "state places: a directory, link or FIFO where a job keeps state is let through",
        "jobs/runtime/places.py",
        "        if found is not None:\n            raise refusal(place, found)",
        "        if False:\n            raise refusal(place, found)",
        ("tests/test_state_places.py::-k refused_by_name_before_any_work and link and compress",),
    ),
    Mutant(
        "state places: a link at a state place is followed to what it points to",
        "jobs/runtime/places.py",
        "        mode = os.lstat(path).st_mode",
        "        mode = os.stat(path).st_mode",
        ("tests/test_state_places.py::-k refused_by_name_before_any_work and link",),
    ),
    Mutant(
        "state places: a graph built for later is planned beside a lock place that is no file",
        "jobs/running.py",
        "        check_places([lock_place(writes)])",
        "        pass",
        ("tests/test_state_places.py::-k refused_by_name_before_any_work and lock",),
    ),
    Mutant(
        "state places: a format-2 manifest place that is a directory fails the run after its work",
        "jobs/rle_job/manifest.py",
        '            Place(os.path.join(directory or ".", LEGACY), f"{what} (format 2)"),\n',
        "",
        ("tests/test_state_places.py::-k legacy-manifest-directory",),
    ),
    Mutant(
        "state places: a resize batch's sidecar, labels or work folder is not checked before the work",
        "jobs/resize_job/checks.py",
        "    check_state_places(state_places(out))",
        "    pass",
        ("tests/test_state_places.py::-k refused_by_name_before_any_work and resize and fifo",),
    ),
    Mutant(
        "state places: the stats job's CSV place is written through a link",
        "jobs/stats_job/planner.py",
        '    check_places([Place(out, "the CSV of this job")])',
        "    pass",
        ("tests/test_state_places.py::-k refused_by_name_before_any_work and stats and link",),
    ),
    Mutant(
        "state files: a huge manifest (or sidecar) is read whole, a MemoryError on every run",
        "jobs/runtime/reads.py",
        "        if os.fstat(f.fileno()).st_size > limit:",
        "        if False:",
        ("tests/test_hostile.py::-k huge_manifest",),
    ),
    Mutant(
        "manifest: a huge manifest is bisected and read on every run",
        "jobs/rle_job/manifest.py",
        "        if listed.size > MAX_BYTES:",
        "        if False:",
        ("tests/test_hostile.py::-k huge_manifest",),
    ),
    Mutant(
        "codec: runs may cross the 127-pixel chunk boundary",
        "rle/codec.py",
        "CHUNK = 127",
        "CHUNK = 128",
        ("tests/test_codec.py::test_valid_streams_decode_to_what_the_format_says_and_encode_back",),
    ),
    # ---- found by a hostile review of the core (tests/test_review_breaks.py)
    Mutant(
        "compress: an output that appeared after planning is replaced",
        "jobs/rle_job/tasks.py",
        "n = writer.add(dst, rle.header(width, h) + r, replace=i in batch.replace)",
        "n = writer.add(dst, rle.header(width, h) + r, replace=True)",
        ("tests/test_review_breaks.py::-k appears_after_planning",),
    ),
    Mutant(
        "compress: a large output that appeared after planning is replaced",
        "jobs/rle_job/planning.py",
        "r=i in replace, st=stamp: (\n                assemble_rle,",
        "r=True, st=stamp: (\n                assemble_rle,",
        ("tests/test_review_breaks.py::-k appears_after_planning",),
    ),
    Mutant(
        "durable: a rename that must not replace replaces",
        "jobs/runtime/durable.py",
        "    if replace:\n        os.replace(tmp, dst)\n        return",
        "    if True:\n        os.replace(tmp, dst)\n        return",
        ("tests/test_review_breaks.py::test_a_retried_task_takes_its_own_earlier_output_as_written",),
    ),
    Mutant(
        "durable: without an atomic rename, what appeared is replaced",
        "jobs/runtime/durable.py",
        "        if os.path.lexists(dst):  # no atomic way on this file system: a check, then the rename",
        "        if False:",
        ("tests/test_review_breaks.py::test_without_an_atomic_rename_a_check_still_keeps_what_appeared",),
    ),
    Mutant(
        "durable: a retried task's own earlier output fails it",
        "jobs/runtime/durable.py",
        "filecmp.cmp(tmp, dst, shallow=False)",
        "False",
        ("tests/test_review_breaks.py::test_a_retried_task_takes_its_own_earlier_output_as_written",),
    ),
    Mutant(
        "samples: a half-written JPEG shows under its name",
        "jobs/samples.py",
        "            writer.add(os.fspath(out / name), buf.getbuffer())",
        "            _photo(rng, width, height, label, noise).save(out / name, quality=quality)",
        ("tests/test_review_breaks.py::-k samples_only_ever",),
    ),
    Mutant(
        "registry: a plugin takes the name of one of the command's commands",
        "jobs/registry.py",
        "        if spec.name in taken or spec.name in RESERVED:",
        "        if spec.name in taken:",
        ("tests/test_registry.py::-k entry_point",),
    ),
    Mutant(
        "registry: a plugin named unlike a command is taken",
        "jobs/registry.py",
        "        if not isinstance(spec.name, str) or not _NAME.fullmatch(spec.name):",
        "        if False:",
        ("tests/test_registry.py::-k entry_point",),
    ),
    Mutant(
        "registry: a plugin that calls sys.exit ends the command",
        "jobs/registry.py",
        "        except (Exception, SystemExit) as e:",
        "        except Exception as e:",
        ("tests/test_registry.py::-k entry_point",),
    ),
    Mutant(
        "cli: Ctrl-C while the command starts is a traceback",
        "jobs/cli/__init__.py",
        "    except KeyboardInterrupt:  # Ctrl-C while starting up",
        "    except ZeroDivisionError:  # Ctrl-C while starting up",
        ("tests/test_review_breaks.py::test_ctrl_c_while_the_command_starts_is_one_line_and_130",),
    ),
    Mutant(
        "cli: a --report temporary a killed run left stays",
        "jobs/cli/command.py",
        "    sweep_temporaries(os.path.dirname(path), of=os.path.basename(path))",
        "    pass",
        ("tests/test_review_breaks.py::test_a_report_temporary_a_killed_run_left_is_swept",),
    ),
    Mutant(
        "stats: a file name that is not UTF-8 fails the finish",
        "jobs/stats_job/planner.py",
        '.encode("utf-8", "surrogateescape")',
        ".encode()",
        ("tests/test_review_breaks.py::-k stats_writes",),
    ),
    Mutant(
        "stats: --overwrite writes over an input",
        "jobs/stats_job/planner.py",
        "and os.path.basename(out) in names:",
        "and False:",
        ("tests/test_review_breaks.py::-k stats_writes",),
    ),
    Mutant(
        "stats: a temporary of the CSV a killed run left stays",
        "jobs/stats_job/planner.py",
        "        sweep_temporaries(os.path.dirname(self.out), of=os.path.basename(self.out))",
        "        pass",
        ("tests/test_review_breaks.py::-k stats_writes",),
    ),
    Mutant(
        "schedulers: an address that is no address is a traceback",
        "jobs/schedulers.py",
        "        except ValueError as e:  # distributed's words",
        "        except ZeroDivisionError as e:  # distributed's words",
        ("tests/test_review_breaks.py::test_an_address_that_is_no_address_is_a_usage_error",),
    ),
    Mutant(
        "resize: a train_filelist that is no path is a traceback",
        "jobs/resize_job/source.py",
        "            if not isinstance(listed, str) or not listed:",
        "            if False:",
        ("tests/test_review_breaks.py::test_a_json_config_whose_train_filelist_is_no_path_is_named",),
    ),
    Mutant(
        "pairs: an input that is not a regular file is handed to a task",
        "jobs/rle_job/currency.py",
        "        if not stat.S_ISREG(st.st_mode):\n            codes[i], state.reasons[i] = BAD",
        "        if False:\n            codes[i], state.reasons[i] = BAD",
        ("tests/test_rle_ranges.py::-k not_regular_files_are_settled",),
    ),
    Mutant(
        "decompress, verify: a FIFO as a small .rle hangs its task",
        "jobs/rle_job/tasks.py",
        "    with rle.open_regular(path) as f:\n        st = os.fstat(",
        "    with open(path, 'rb') as f:\n        st = os.fstat(",
        ("tests/test_review_breaks.py::-k small_rle_was_planned",),
    ),
    # ---- scale: tasks read ranges of a list, a run keeps a bounded window (issue 29)
    Mutant(
        "listfile: a task reads a list edited since the plan",
        "jobs/runtime/listfile.py",
        "if now != (self.size, self.mtime_ns, self.inode, self.ctime_ns):",
        "if False:",
        ("tests/test_scale.py::-k changed_after_planning or edited_between",),
    ),
    Mutant(
        "listed: a range whose bytes hold other entries than planned is believed",
        "jobs/resize_job/listed.py",
        "if len(paths) != self.length:",
        "if False:",
        ("tests/test_scale.py::-k bytes_hold_other",),
    ),
    Mutant(
        "listed: a chunk boundary inside a line splits it in two",
        "jobs/resize_job/listed.py",
        'cut = max(data.rfind(b"\\n"), data.rfind(b"\\r")) + 1 if chunk else len(data)',
        "cut = len(data)",
        ("tests/test_scale.py::-k across_a_chunk",),
    ),
    Mutant(
        "listed: a path of a list that names the output is not looked at",
        "jobs/resize_job/listed.py",
        "watched += [p for p in paths if _watched(p, watch)]",
        "pass",
        ("tests/test_scale.py::-k names_an_output",),
    ),
    Mutant(
        "runners: a run submits every task at once",
        "jobs/runtime/window.py",
        "            keys = [pending.popleft() for _ in range(min(free, len(pending)))]",
        "            keys = list(pending)\n            pending.clear()",
        ("tests/test_scale.py::-k window",),
    ),
    Mutant(
        "runners: a run sends its window one task a message (the scheduler's time goes to messages)",
        "jobs/runtime/window.py",
        "    chunk = max(1, window // 4)",
        "    chunk = 1",
        ("tests/test_scale.py::-k window",),
    ),
    # ---- the dashboard's progress counts finished tasks (issue 31, item 10)
    Mutant(
        "dashboard: a run lets each task go as it lands, so the Progress panel forgets it (its total shrinks)",
        "jobs/runtime/runners.py",
        "            for batch in submit_windowed(self.client, graph, window, live, ready, kept):",
        "            for batch in submit_windowed(self.client, graph, window, live, ready):",
        ("tests/test_dashboard.py::-k stay_counted",),
    ),
    Mutant(
        "dashboard: a failed run leaves the tasks it kept on the scheduler while its error is handled",
        "jobs/runtime/runners.py",
        "            for fut in (kept or {}).values():\n                fut.release()",
        "            pass",
        ("tests/test_dashboard.py::-k failed_run_lets_go",),
    ),
    Mutant(
        "dashboard: imgjobs.scheduler.keep-finished false still keeps every finished task on the scheduler",
        "jobs/runtime/runners.py",
        "        kept: dict | None = {} if keeps_finished_on(self.kind, self.client) else None",
        "        kept: dict | None = {}",
        ("tests/test_dashboard.py::-k keep_finished_false",),
    ),
    Mutant(
        "dashboard: a kept result lost with its worker is computed again",
        "jobs/runtime/window.py",
        '    for key in [key for key, fut in kept.items() if fut.status == "lost"]:',
        "    for key in []:",
        ("tests/test_dashboard.py::-k lost_with_its_worker",),
    ),
    Mutant(
        "dashboard: a run never looks for kept results lost with their worker",
        "jobs/runtime/window.py",
        "        if kept and time.monotonic() >= look:",
        "        if False:",
        ("tests/test_dashboard.py::-k lost_results_as_it_goes",),
    ),
    Mutant(
        "dashboard: a browser tab that closes early prints bokeh's AssertionError traceback",
        "jobs/cli/logs.py",
        '    return not (code.co_name == "session" and where.endswith("bokeh/server/connection.py"))',
        "    return True",
        ("tests/test_dashboard.py::-k bokeh_traceback",),
    ),
    Mutant(
        "cli: a worker's heartbeat after Ctrl-C closed the scheduler prints two tracebacks",
        "jobs/schedulers.py",
        '        return not message.startswith("Failed to communicate with scheduler during heartbeat")',
        "        return True",
        ("tests/test_cluster.py::-k stopping_run",),
    ),
    Mutant(
        "listfile: a list edited with its size and modification time put back is read as planned",
        "jobs/runtime/listfile.py",
        "        now = (st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)",
        "        now = (st.st_size, st.st_mtime_ns, self.inode, self.ctime_ns)",
        ("tests/test_scale.py::-k list_changed_after_planning",),
    ),
    Mutant(
        "done records: failures they list are believed without looking at the slots",
        "jobs/resize_job/rerun.py",
        "        elif _failed_slots_not_zero(where.target, [d.start + i for i, _ in d.failed]):",
        "        elif False:",
        (f"{INTEGRITY}::test_a_done_record_that_lists_a_written_image_as_failed_is_not_believed",),
    ),
    Mutant(
        "reruns: a rerun on a cluster stamps every image on the client",
        "jobs/runtime/runners.py",
        "        if self.client is None:\n            if self.processes_for(",
        "        if True:\n            if self.processes_for(",
        ("tests/test_scale.py::-k stamps_in_tasks",),
    ),
    Mutant(
        "reruns: the check before a cluster starts stamps every image on the client, whose workers are given",
        "jobs/running.py",
        "    if client is None:\n        return local_map",
        "    if True:\n        return local_map",
        ("tests/test_scale.py::-k stamps_in_tasks",),
    ),
    Mutant(
        "sidecar: slices that leave a gap or overlap are believed",
        "jobs/resize_job/sidecar.py",
        "if item[0] != end or item[1] <= item[0] or not stamps.is_digest(item[2]):",
        "if not stamps.is_digest(item[2]):",
        ("tests/test_scale.py::-k tile_the_batch",),
    ),
    Mutant(
        "sidecar: format 2's per-image stamps are read as other slices (its batches rebuilt for nothing)",
        "jobs/resize_job/sidecar.py",
        "stamps.digest(files[k : k + batch])",
        "stamps.digest(files[k : k + batch - 1])",
        ("tests/test_scale.py::-k format_2s",),
    ),
    # ---- compress at scale: ranges of the run's work list, outputs judged in range tasks (issue 29)
    Mutant(
        "compress: an input whose output an earlier input makes writes it too",
        "jobs/rle_job/currency.py",
        "        if outs[i] == maker_out:",
        "        if False:",
        ("tests/test_rle_ranges.py::-k clash",),
    ),
    Mutant(
        "compress: a batch task makes every output of its range, those skipped or split too",
        "jobs/rle_job/ranges.py",
        "        picked = entries if len(idx) == n else entries.take(idx.tolist())",
        "        picked, idx = entries, np.arange(n)",
        ("tests/test_rle_ranges.py::-k sort_apart",),
    ),
    Mutant(
        "manifest: a window reads a huge manifest to its end",
        "jobs/rle_job/manifest.py",
        "            if k > last:\n                break",
        "            if False:\n                break",
        ("tests/test_rle_ranges.py::-k window_reads_little",),
    ),
    Mutant(
        "worklist: a task reads a range of a list that does not hold the entries planned",
        "jobs/runtime/worklist.py",
        '        if before != b"\\0" or data.count(b"\\0") != self.count or (data and not data.endswith(b"\\0")):',
        "        if False:",
        ("tests/test_rle_ranges.py::-k worklist",),
    ),
    Mutant(
        "rle journal: the records of a large file's last task are chained, not merged, into a batch's",
        "jobs/rle_job/journal.py",
        "        if group and p.first > end:",
        "        if group:",
        ("tests/test_rle_ranges.py::-k recorded_in_order",),
    ),
    Mutant(
        "dashboard: a client's workers with lifetimes keep finished tasks by default",
        "jobs/runtime/window.py",
        "        return any(client.run(_lifetime).values())",
        "        return False",
        ("tests/test_dashboard.py::-k lifetimes",),
    ),
    Mutant(
        "resize: a .wds asked again with auto (or the size auto chose) is refused as another job",
        "jobs/resize_job/target.py",
        '    return other if sidecar.get("identity") == batch_identity(source, other, out) else opts',
        "    return opts",
        ("tests/test_resize_lists.py::-k same_job",),
    ),
    Mutant(
        "lock: a file of a user's named like the lock is overwritten (then removed)",
        "jobs/runtime/locks.py",
        '        if there and not there.startswith(b"pid "):',
        "        if False:",
        (f"{RR}::-k named_like_the_lock",),
    ),
    # ---- the quality floor at every size (issue 30)
    Mutant(
        "resize: a .npy slice is recorded done before it is on disk (its pieces' write-back only started)",
        "jobs/resize_job/tasks.py",
        "            w.sync()  # only then is the slice recorded done",
        "            pass",
        ("tests/test_resize.py::-k on_disk_before",),
    ),
    Mutant(
        "task: a .npy fill writes into a work folder another run owns",
        "jobs/resize_job/tasks.py",
        "    where.check_owner()\n    paths = list(paths)",
        "    paths = list(paths)",
        (f"{INTEGRITY}::test_a_task_never_writes_into_a_work_folder_another_run_took_over",),
    ),
    Mutant(
        "resize: the area filter (a box) enlarges and stretches a thin image too, under the floor",
        "jobs/resize_job/geometry.py",
        "    if all(shrinks):",
        "    if True:",
        ("tests/test_floor.py",),
    ),
    Mutant(
        "resize: an enlarged image is blurred and bicubic-interpolated rather than Lanczos-interpolated",
        "jobs/resize_job/geometry.py",
        '    return "antialias" if any(shrinks) else "interpolate"',
        '    return "antialias"',
        ("tests/test_floor.py::-k beats_the_box",),
    ),
    Mutant(
        "resize: a side shrunk while the other grows is not antialiased",
        "jobs/resize_job/decode.py",
        "    blurred = cv2.GaussianBlur(rgb, (0, 0), sigmaX=max(sx, 1e-3), sigmaY=max(sy, 1e-3))",
        "    blurred = rgb",
        ("tests/test_floor.py",),
    ),
    # ---- records that survive a kill, content stamps for every job that reads inputs (issue 31, items 2-3)
    Mutant(
        "dashboard: a batch system's cluster keeps finished tasks by default (retiring workers move or recompute them)",
        "jobs/runtime/window.py",
        '        return kind != "cluster"',
        "        return True",
        ("tests/test_dashboard.py::-k auto_keeps",),
    ),
    Mutant(
        "rle records: outputs of one size and time swapped by renames are called current (no inode)",
        "jobs/runtime/stamps.py",
        'return b"%d:%d:i%d" % (st.st_size, st.st_mtime_ns, st.st_ino)',
        'return b"%d:%d:i0" % (st.st_size, st.st_mtime_ns)',
        (f"{RR}::-k swapped_by_renames",),
    ),
    Mutant(
        "rle currency: an output made with another threshold is called current",
        "jobs/rle_job/currency.py",
        "    if settings != made_with:",
        "    if False:",
        (f"{RR}::-k another_threshold",),
    ),
    Mutant(
        "sweep: a user's file named like a temporary (.notes.2024-1.imgjobs.tmp) is removed",
        "jobs/runtime/temporaries.py",
        "    return bool(final) and _TAG.fullmatch(tag) is not None",
        "    return True",
        (f"{RR}::-k named_like_temporaries",),
    ),
    Mutant(
        "sweep: a link named like one of our temporaries is removed",
        "jobs/runtime/temporaries.py",
        "if entry.is_file(follow_symlinks=False) and remove_path(entry.path):",
        "if not entry.is_dir(follow_symlinks=False) and remove_path(entry.path):",
        (f"{RR}::-k named_like_temporaries",),
    ),
    Mutant(
        "lock: a holder that never wrote who it is is called another imgjobs run, unnamed",
        "jobs/runtime/locks.py",
        "    if not pid:  # taken,",
        "    if False:  # taken,",
        (f"{RR}::-k never_said_who",),
    ),
    Mutant(
        "rle plan: records that cannot be folded in before any work give a raw OS error after it",
        "jobs/rle_job/journal.py",
        "    except OSError as e:  # before any work",
        "    except ZeroDivisionError as e:  # before any work",
        (f"{RR}::-k cannot_be_written",),
    ),
    Mutant(
        "lock: a refusal names a run that has ended, not the process that still holds its lock",
        "jobs/runtime/locks.py",
        "    except ProcessLookupError:\n        return False",
        "    except ProcessLookupError:\n        return True",
        (f"{RR}::-k outlived",),
    ),
    Mutant(
        "sweep: -v logs a line per temporary removed (a killed run's thousands of them)",
        "jobs/runtime/temporaries.py",
        "                    n += 1\n",
        '                    n += 1\n                    log.info("removed %s", entry.path)\n',
        (f"{RR}::-k verbose_logs_one_line",),
    ),
    Mutant(
        "compress: a task's outputs get no record until the run's end (a kill -9 loses them)",
        "jobs/rle_job/tasks.py",
        "    record_made(out, ins, writer.stamps, batch.dst.directory, token)\n    return out\n\n\ndef read_small_rle(",
        "    return out\n\n\ndef read_small_rle(",
        (f"{RR}::-k sigkill", "tests/test_runtime.py::-k failing_task_aborts"),
    ),
    Mutant(
        "rle plan: a killed run's records are not folded in before outputs are judged",
        "jobs/rle_job/pairs.py",
        "        if left:\n            fold_left(",
        "        if False:\n            fold_left(",
        (f"{RR}::-k sigkill",),
    ),
    Mutant(
        "rle currency: a rerun compares stat stamps whatever imgjobs.stamps says",
        "jobs/rle_job/currency.py",
        '    if stamps != "content":\n        return stat_stamp_bytes(st.st_size, st.st_mtime_ns)\n    try:',
        "    if True:\n        return stat_stamp_bytes(st.st_size, st.st_mtime_ns)\n    try:",
        (f"{RR}::-k content_stamps",),
    ),
    Mutant(
        "rle tasks: a task records stat stamps whatever imgjobs.stamps says",
        "jobs/rle_job/tasks.py",
        '    if mode != "content":\n        stamp = stat_stamp_bytes(size, mtime_ns)',
        "    if True:\n        stamp = stat_stamp_bytes(size, mtime_ns)",
        (f"{RR}::-k content_stamps",),
    ),
    Mutant(
        "rle journal: a link among the records is read through",
        "jobs/rle_job/journal.py",
        "        if found_there is not None:",
        "        if False:",
        (f"{RR}::-k hostile",),
    ),
    Mutant(
        "rle journal: a file where the records' folder goes is not refused",
        "jobs/rle_job/journal.py",
        '    check_places([Place(path, "the records of outputs its tasks made", DIRECTORY)])',
        "    pass",
        (f"{RR}::-k hostile",),
    ),
    Mutant(
        "rle journal: of two records of one output, the older part's wins",
        "jobs/rle_job/journal.py",
        "        yield (k, -p.rank), r",
        "        yield (k, p.rank), r",
        (f"{RR}::-k newer_wins",),
    ),
    Mutant(
        "compress --overwrite: the records of outputs it could not make again are dropped",
        "jobs/rle_job/pairs.py",
        "        records = records_of(target.out_dir, token) if look else None",
        "        records = records_of(target.out_dir, token) if look and not overwrite else None",
        ("tests/test_rle_ranges.py::-k overwrite_keeps",),
    ),
    Mutant(
        "compress: automatic batches exceed imgjobs.max-tasks",
        "jobs/rle_job/layout.py",
        "    if total > budget * sizing.max_tasks:",
        "    if False:",
        ("tests/test_rle_ranges.py::-k max_tasks",),
    ),
    Mutant(
        "compress: a range's manifest window is bounded by raw names, not by the manifest's order",
        "jobs/rle_job/currency.py",
        "read_window(records, min(map(key, outs)), max(map(key, outs)))",
        "read_window(records, key(min(outs)), key(max(outs)))",
        ("tests/test_rle_ranges.py::-k extends_its_output",),
    ),
    Mutant(
        "manifest: a converted format-2 record is sorted by its bytes, and records are lost in the merge",
        "jobs/rle_job/manifest.py",
        '    records.sort(key=lambda r: key(r.partition(b"\\0")[0]))',
        "    records.sort()",
        ("tests/test_rle_ranges.py::-k converted_format_2",),
    ),
    Mutant(
        "manifest: a run of bytes with no record end is held and joined to the end of a huge file",
        "jobs/rle_job/manifest.py",
        "        if len(rest) > _RECORD_BYTES:\n            return",
        "        if False:\n            return",
        ("tests/test_rle_ranges.py::-k read_no_further",),
    ),
    Mutant(
        "manifest: reading goes on past damage, through a file of garbage",
        "jobs/rle_job/manifest.py",
        "            if parsed is None:\n                return",
        "            if parsed is None:\n                continue",
        ("tests/test_rle_ranges.py::-k read_no_further",),
    ),
    Mutant(
        "manifest: a directory, FIFO or link where the manifest goes is not refused",
        "jobs/rle_job/manifest.py",
        '            Place(os.path.join(directory or ".", MANIFEST), what),\n',
        "",
        ("tests/test_rle_ranges.py::-k manifest_place",),
    ),
    Mutant(
        "manifest: a huge format-2 record is read whole",
        "jobs/rle_job/manifest.py",
        "load_json(path, limit=LEGACY_MAX_BYTES)",
        "load_json(path)",
        ("tests/test_rle_ranges.py::-k huge_format_2",),
    ),
    Mutant(
        "worklist: a graph computed twice fails with a usage error, not a stale plan",
        "jobs/runtime/worklist.py",
        "        except UsageError:  # gone",
        "        except KeyError:  # gone",
        ("tests/test_rle_ranges.py::-k computed_twice",),
    ),
    Mutant(
        "rle finish: a rerun with nothing to do leaves what a killed run left",
        "jobs/rle_job/planning.py",
        "    sweep = bool(pairs.stale) or bool(len(pairs.todo()))",
        "    sweep = bool(len(pairs.todo()))",
        ("tests/test_rle_ranges.py::-k lists_each_directory_once",),
    ),
    # ---- no hole left in the promises (issue 31)
    Mutant(
        "resize: a rerun of a batch with failures exits 0 and names none (train goes on over zeros)",
        "jobs/resize_job/report.py",
        '    for f in sidecar["failed"]:  # checked',
        "    for f in []:  # checked",
        ("tests/test_resize.py::-k rerun_of_a_batch_with_failures",),
    ),
    Mutant(
        "performance report: its resource tracker is forked, and holds the output's lock after a kill -9",
        "jobs/runtime/runners.py",
        "    with Profiler() as prof, _ResourceProfiler(dt=0.05) as rprof:",
        "    with Profiler() as prof, ResourceProfiler(dt=0.05) as rprof:",
        ("tests/test_hostile.py::-k performance_report_leaves",),
    ),
    Mutant(
        "cli: --overwrite set in the configuration cannot be turned off on the command line",
        "jobs/params.py",
        'OVERWRITE = Param(key="overwrite", check=boolean, flag={"action": argparse.BooleanOptionalAction})',
        'OVERWRITE = Param(key="overwrite", check=boolean, flag={"action": "store_true"})',
        ("tests/test_cli.py::-k no_overwrite",),
    ),
    Mutant(
        "config: a misspelt imgjobs.* key is ignored without a word",
        "jobs/running.py",
        "    options = RunOptions.from_kwargs(dict(scheduler), job)\n    _warn_unknown_keys()\n",
        "    options = RunOptions.from_kwargs(dict(scheduler), job)\n",
        ("tests/test_cli.py::-k misspelt_setting",),
    ),
    Mutant(
        "local cluster: --host 0.0.0.0 --no-tls opens a scheduler to the network without a word",
        "jobs/schedulers.py",
        "    if not tls and not _loopback(host):",
        "    if False:",
        ("tests/test_cli.py::-k host_0000",),
    ),
    Mutant(
        "local cluster: the dashboard link names the host's address, where the dashboard does not listen",
        "jobs/schedulers.py",
        "        runner.dashboard_link = dashboard_link(client, dashboard_address)",
        "        runner.dashboard_link = runner.dashboard_link",
        ("tests/test_cli.py::-k host_0000",),
    ),
    # ---- first use (issue 31, item 9)
    Mutant(
        "first use: argparse takes --overwrit for --overwrite (abbreviated options)",
        "jobs/cli/parser.py",
        "    parser.allow_abbrev = False",
        "    parser.allow_abbrev = True",
        ("tests/test_first_use.py::-k abbreviated",),
    ),
    Mutant(
        "first use: the pages show --overwrite as an en dash (Sphinx's smart dashes)",
        "docs/conf.py",
        'smartquotes_action = "qe"',
        'smartquotes_action = "qDe"',
        ("tests/test_first_use.py::-k as_typed",),
    ),
    Mutant(
        "first use: the notebook's exercise-data/ and the first run's photos/ left for git to see",
        ".gitignore",
        "/photos/\n/batch.npy*\n/batch.labels.npy\n/train.wds*\n/train.zarr*\nexercise-data/\n",
        "notebooks/exercise-data/\n",
        ("tests/test_first_use.py::-k ignored_by_git",),
    ),
    Mutant(
        "dry run: dask-jobqueue's TLS temporaries outlive their folder (an Exception ignored traceback each)",
        "jobs/clusters/profiles.py",
        "                held.close()  # deletes the file",
        "                pass",
        ("tests/test_first_use.py::-k dry_run",),
    ),
    Mutant(
        "dry run: the job script names the dry run's own TLS files, deleted as it ends",
        "jobs/clusters/profiles.py",
        "    if private and private in script:",
        "    if False:",
        ("tests/test_first_use.py::-k dry_run",),
    ),
    Mutant(
        "logs: a closing worker's cut heartbeat prints two tracebacks under the run's summary",
        "jobs/cli/logs.py",
        "    if heartbeat:  # a worker's heartbeat cut by its own connection pool: the worker closes with the run",
        "    if False:",
        ("tests/test_first_use.py::-k heartbeat",),
    ),
    Mutant(
        "samples: 2,000 JPEGs drawn for 16 s without a sign of progress",
        "jobs/samples.py",
        "                bar.update(len(lines) - bar.units)  # the images written, not only drawn",
        "                pass",
        ("tests/test_first_use.py::-k samples_show",),
    ),
    Mutant(
        "notebook: every bar warns 'TqdmWarning: IProgress not found' without ipywidgets",
        "jobs/runtime/progress.py",
        '    if importlib.util.find_spec("ipywidgets") is None:',
        "    if False:",
        ("tests/test_first_use.py::-k jupyter",),
    ),
    # ---- data at URLs (jobs/runtime/storage.py)
    Mutant(
        "storage: an object whose bytes are not as many as its store said is taken",
        "jobs/runtime/storage.py",
        "    if size is not None and len(data) != size:",
        "    if False:",
        (f"{ST}::test_a_server_that_lies_about_sizes_is_refused_by_name",),
    ),
    Mutant(
        "storage: an object the store says is over the limit is read anyway",
        "jobs/runtime/storage.py",
        "    if limit is not None and size is not None and size > limit:",
        "    if False:",
        (f"{ST}::test_a_server_that_lies_about_sizes_is_refused_by_name",),
    ),
    Mutant(
        "storage: no ETag is used: every stamp of an object reads and digests it",
        "jobs/runtime/storage.py",
        '            kind = "etag" if key.lower() in ("etag", "md5hash") else "time"',
        "            continue",
        (f"{ST}::test_content_stamps_read_every_object_and_see_the_same_bytes_as_unchanged",),
    ),
    Mutant(
        "storage: an object's stamp leaves out its version (an object replaced at the same size is kept)",
        "jobs/runtime/stamps.py",
        '        if size is not None and version is not None:\n            return f"{size}:{version}"',
        '        if size is not None and version is not None:\n            return f"{size}:x"',
        ("tests/test_storage_model.py",),
    ),
    Mutant(
        "storage: the options' values show in their repr",
        "jobs/runtime/storage.py",
        "        return f\"Storage(options: {', '.join(sorted(self.options)) or 'none'})\"",
        '        return f"Storage({self.options})"',
        (f"{ST}::test_storage_options_never_show_their_values",),
    ),
    Mutant(
        "storage: --help shows the configured storage options",
        "jobs/cli/helptext.py",
        "    if key in SECRET_KEYS:",
        "    if False:",
        (f"{ST}::test_help_never_shows_the_configured_storage_options",),
    ),
    Mutant(
        "storage: a URL in a list is taken relative to the list",
        "jobs/resize_job/listed.py",
        '    if name[0] == "/" or is_url(name):',
        '    if name[0] == "/":',
        (f"{ST}::test_a_list_in_a_bucket_gives_the_batch_the_same_files_give_on_disk",),
    ),
    Mutant(
        "storage: a task reads a list at a URL changed since the plan",
        "jobs/runtime/listfile.py",
        "        if now != self.version:",
        "        if False:",
        (f"{ST}::test_a_list_changed_in_its_bucket_after_the_plan_is_refused_by_the_tasks",),
    ),
    Mutant(
        "storage: a .npy at a URL is not refused",
        "jobs/resize_job/remote.py",
        '    if is_url(out) and kind_of(out.rstrip("/")) == "npy":',
        "    if False:",
        (f"{ST}::test_outputs_at_urls_imgjobs_cannot_write_are_refused_with_what_to_do",),
    ),
    # ---- outputs at URLs (jobs/runtime/mirror.py, jobs/resize_job/remote.py)
    Mutant(
        "mirror: the old sidecar stays in the store while objects change beside it",
        "jobs/runtime/mirror.py",
        "        if record in listed:",
        "        if False:",
        (f"{SO}::test_an_upload_that_fails_mid_way_leaves_no_sidecar_beside_the_new_objects",),
    ),
    Mutant(
        "mirror: an object the store lost is not put back",
        "jobs/runtime/mirror.py",
        "        return was is not None and was[0] == now[n] and listed.get(n) == was[1] and bool(was[1])",
        "        return was is not None and was[0] == now[n]",
        (f"{SO}::test_an_output_in_a_bucket_is_the_local_one_object_for_object[zarr]",),
    ),
    Mutant(
        "mirror: objects imgjobs did not put in the store are deleted",
        "jobs/runtime/mirror.py",
        "    ours_gone = [n for n in before if n not in now and n in listed]",
        "    ours_gone = [n for n in listed if n not in now and n != record]",
        (f"{SO}::test_only_objects_imgjobs_put_there_are_removed",),
    ),
    Mutant(
        "mirror: objects of an earlier run that the output no longer holds stay in the store",
        "jobs/runtime/mirror.py",
        '        for n in ours_gone:\n            fs.rm_file(f"{root}/{n}")',
        "        for n in ours_gone:\n            pass",
        (f"{SO}::test_only_objects_imgjobs_put_there_are_removed",),
    ),
    Mutant(
        "remote: the sidecar in the store names the stage, not the URL",
        "jobs/resize_job/finish.py",
        '            "output": self.published or os.path.abspath(w.out),',
        '            "output": os.path.abspath(w.out),',
        (f"{SO}::test_an_output_in_a_bucket_is_the_local_one_object_for_object[zarr]",),
    ),
    Mutant(
        "fetch: an object replaced in the store is not fetched again (its output is kept, stale)",
        "jobs/runtime/mirror.py",
        "        if was == [etag, _local_stamp(os.path.join(folder, n))] and etag:",
        "        if was is not None:",
        ("tests/test_storage_rle.py::test_compress_decompress_and_verify_between_buckets_write_the_local_bytes",),
    ),
    Mutant(
        "fetch: every object is fetched again on every run (every output made again)",
        "jobs/runtime/mirror.py",
        "        if was == [etag, _local_stamp(os.path.join(folder, n))] and etag:",
        "        if False:",
        ("tests/test_storage_rle.py::test_compress_decompress_and_verify_between_buckets_write_the_local_bytes",),
    ),
    # ---- the hostile review of issue 32's URLs
    Mutant(
        "storage: two spellings of one output URL (s3a://, //) get two stages and two locks",
        "jobs/runtime/storage.py",
        "        return f\"{protocol}://{path.strip('/')}\"",
        "        return url",
        (f"{SO}::test_every_spelling_of_an_output_url_is_one_output_with_one_stage",),
    ),
    Mutant(
        "remote: a fresh stage replaces an output another stage put in the store, without --overwrite",
        "jobs/resize_job/remote.py",
        "    if there:",
        "    if False:",
        (f"{SO}::test_an_output_another_stage_put_in_the_store_is_refused_without_overwrite",),
    ),
    Mutant(
        "storage: a storage option a store repeats in its error is shown",
        "jobs/runtime/storage.py",
        '            text = text.replace(v, "<a storage option>")',
        "            pass",
        (f"{ST}::test_an_option_a_store_repeats_in_its_error_is_never_shown",),
    ),
    Mutant(
        "storage: a list's entry over HTTP is not percent-encoded (a # or ? in a file name cuts the URL)",
        "jobs/resize_job/listed.py",
        "    return base + (quote(name) if is_http(base) else name)",
        "    return base + name",
        (f"{ST}::test_names_over_http_are_file_names_as_on_disk",),
    ),
    Mutant(
        "storage: class folders over HTTP keep their percent-encoded names (other classes, other order)",
        "jobs/runtime/storage.py",
        "        name = unquote(raw) if is_http(url) else raw",
        "        name = raw",
        (f"{ST}::test_names_over_http_are_file_names_as_on_disk",),
    ),
    Mutant(
        "storage: through a cache, the store's newer ETag is recorded beside the cache's older bytes",
        "jobs/runtime/storage.py",
        "    if is_chained(url):  # a cache serves its copy: what the store says now may be of other bytes",
        "    if False:",
        (f"{ST}::test_through_a_cache_the_stamp_is_of_the_bytes_the_cache_served",),
    ),
]


def _pytest_args(tests) -> list[str]:
    args = []
    for t in tests:
        if "::-k " in t:
            path, expr = t.split("::-k ", 1)
            args += [path, "-k", expr]
        else:
            args.append(t)
    return args


#: What every mutant's tests import and no mutant changes: imported once, before the first mutant, so each
#: mutant's pytest (forked from this process) starts with them loaded (~1.5 s of a mutant's ~2.5 s here).
WARM = (
    "pytest",  # not its plugins (hypothesis): pytest rewrites their asserts as it loads them
    "numpy",
    "PIL.Image",
    "dask",
    "dask.array",
    "dask.delayed",
    "dask.multiprocessing",
    "distributed",
    "cv2",
    "simplejpeg",
    "tqdm",
    "yaml",
    "bitarray",
)


def warm() -> bool:
    """Import :data:`WARM` here, isolated from the user's Dask configuration as the suite is (conftest.py);
    False (each mutant then runs in a process of its own) where this process cannot fork safely."""
    if not hasattr(os, "fork") or "jobs" in sys.modules or "rle" in sys.modules:
        return False
    home = tempfile.mkdtemp(prefix="imgjobs-mutants-home-")
    os.environ.update(HOME=home, DASK_ROOT_CONFIG=os.path.join(home, "etc-dask"))
    for name in [n for n in os.environ if n.startswith("DASK_IMGJOBS__")]:
        del os.environ[name]
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    return threading.active_count() == 1  # a fork copies one thread: only safe while there is one


def _forked(args: list[str], timeout: int, root: str):
    """Run pytest with ``args`` in a child forked from this warm process; its exit code, or "timeout"."""
    pid = os.fork()
    if pid == 0:  # the child: its own process group (so a time-out kills what it started), quiet
        code = 3
        try:
            os.setpgid(0, 0)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            os.chdir(root)
            import pytest

            code = int(pytest.main(args))
        finally:
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout"
        time.sleep(0.02)


def _spawned(args: list[str], timeout: int, root: str):
    """Run pytest with ``args`` in a new Python process; its exit code, or "timeout"."""
    cmd = [sys.executable, "-m", "pytest", *args]
    try:
        return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return "timeout"


#: A mutated file's modification time: this, plus a number made from its content.  Python keeps a module's
#: bytecode by its source's modification time (in seconds) and size, so two different sources (two
#: mutants, or a mutant and the original) never share cached bytecode, while pytest's rewritten tests
#: and every unchanged module keep theirs.
MUTATED_MTIME = 1_000_000_000  # 2001-09-09: before any source here was written


def _stamp_of(text: str) -> int:
    """The modification time (ns) of a mutated file with ``text``: its own for each distinct content."""
    return (MUTATED_MTIME + int(hashlib.sha256(text.encode()).hexdigest()[:12], 16) % 10**8) * 10**9


def run_mutant(m: Mutant, timeout: int, fork: bool = False, root: str = ROOT) -> tuple[str, float]:
    """Apply ``m`` in the project at ``root``, run its tests (forked from this process when ``fork``), put the
    file back; the verdict."""
    path = os.path.join(root, m.path)
    with open(path, encoding="utf-8") as f:
        source = f.read()
    if source.count(m.original) != 1:
        return f"stale: the original appears {source.count(m.original)} time(s) in {m.path}", 0.0
    start = time.perf_counter()
    args = ["-x", "-q", "-p", "no:cacheprovider", "-p", "no:zarr", "--no-header", "-o", "addopts=--strict-markers"]
    args += _pytest_args(m.tests)
    was = os.stat(path)
    try:
        mutated = source.replace(m.original, m.mutated)
        with open(path, "w", encoding="utf-8") as f:
            f.write(mutated)
        os.utime(path, ns=(_stamp_of(mutated), _stamp_of(mutated)))
        code = _forked(args, timeout, root) if fork else _spawned(args, timeout, root)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(source)
        os.utime(path, ns=(was.st_atime_ns, was.st_mtime_ns))  # its own bytecode is current again
    seconds = time.perf_counter() - start
    if code == 1:
        return "killed", seconds
    if code == 0:
        return "SURVIVED", seconds
    if code == "timeout":
        # inconclusive, not killed: each test has its own pytest time-out (which fails it, a kill),
        # so the whole selection running past this budget says nothing about the mutant
        return f"error: its tests ran past {timeout} s (inconclusive; raise --timeout)", seconds
    return f"error: pytest exit {code} (no test ran, or a collection error)", seconds


def copy_project(into: str) -> str:
    """A copy of the project's files (git's tracked and untracked, not ignored ones) in ``into``; its root."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True
    )
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.split(b"\0")):
            src, dst = os.path.join(ROOT, os.fsdecode(rel)), os.path.join(into, os.fsdecode(rel))
            if os.path.isfile(src):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(src, dst)
    else:  # not a git checkout
        skip = shutil.ignore_patterns(".git", ".venv", "_build", "__pycache__", ".hypothesis", "*.egg-info")
        shutil.copytree(ROOT, into, ignore=skip, dirs_exist_ok=True)
    return into


def _worker(root: str, conn, timeout: int, fork: bool) -> None:
    """Run the mutants whose indices come through ``conn`` in the project at ``root``; send back each verdict."""
    while (i := conn.recv()) is not None:
        conn.send((i, *run_mutant(MUTANTS_CHOSEN[i], timeout, fork, root)))


#: The mutants of this run, in order (the workers forked from this process see them).
MUTANTS_CHOSEN: list = []


def run_all(chosen: list, timeout: int, fork: bool, jobs: int):
    """Yield ``(index, verdict, seconds)`` for every mutant of ``chosen``, ``jobs`` at a time, as they end."""
    MUTANTS_CHOSEN[:] = chosen
    if jobs <= 1 or len(chosen) < 2:
        for i, m in enumerate(chosen):
            yield (i, *run_mutant(m, timeout, fork))
        return
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="imgjobs-mutants-") as tmp:
        roots = [ROOT] + [copy_project(os.path.join(tmp, f"project-{k}")) for k in range(1, min(jobs, len(chosen)))]
        workers = {}
        for root in roots:
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(target=_worker, args=(root, theirs, timeout, fork))
            proc.start()
            theirs.close()
            workers[mine] = proc
        pending = list(range(len(chosen)))[::-1]
        busy = set()
        try:
            for conn in workers:
                conn.send(pending.pop())
                busy.add(conn)
            while busy:
                for conn in multiprocessing.connection.wait(list(busy)):
                    try:
                        result = conn.recv()
                    except EOFError:
                        raise RuntimeError(f"a mutants worker died (exit {workers[conn].exitcode})") from None
                    if pending:
                        conn.send(pending.pop())
                    else:
                        conn.send(None)
                        busy.discard(conn)
                    yield result
        finally:
            for conn, proc in workers.items():
                if proc.is_alive():
                    proc.terminate()
                proc.join()
                conn.close()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-k", default="", help="only mutants whose name contains this text")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=int, default=900, help="seconds for one mutant's tests (default 900)")
    ap.add_argument("--no-fork", action="store_true", help="run each mutant's pytest in a new process (slower)")
    ap.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="mutants at once, each in a copy of the project (default: 2 with two cores or more)",
    )
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if args.k.lower() in m.name.lower()]
    if args.list:
        for m in chosen:
            print(f"{m.name}\n    {m.path}; killed by {', '.join(m.tests)}")
        return 0
    # the same examples every time (the derandomized "ci" profile, not shrunk): a verdict reproduces anywhere
    os.environ["HYPOTHESIS_PROFILE"] = "mutants"
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode is cached, by modification time (MUTATED_MTIME)
    sys.dont_write_bytecode = False
    fork = not args.no_fork and warm()
    bad = []
    for n, (i, verdict, seconds) in enumerate(run_all(chosen, args.timeout, fork, args.jobs), 1):
        m = chosen[i]
        print(f"[{n:2d}/{len(chosen)}] {verdict:<10} {seconds:5.1f} s  {m.name}", flush=True)
        if not verdict.startswith("killed"):
            bad.append((m, verdict))
    if bad:
        print(f"\n{len(bad)} of {len(chosen)} mutant(s) not killed:")
        for m, verdict in bad:
            print(f"  {m.name} ({m.path}): {verdict}")
        return 1
    print(f"\nall {len(chosen)} mutants killed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
