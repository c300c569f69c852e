"""The layers, read from the code: every import of every module (inside functions too), parsed with ``ast``.

- no import cycle, counting imports inside functions;
- each layer imports only its own and those below it: ``rle`` (the codec) nothing
  of ``jobs``; the runtime nothing above it (no job, no option declarations, no
  cluster, not the codec); a job no other job;
- an import inside a function (of any module, the standard library's too) says
  why it is there (an optional extra, or a measured start-up cost), in a comment;
- ``jobs/__init__.py`` loads its public names on first use, and its
  ``TYPE_CHECKING`` imports (what editors and mypy see) name the same ones;
- no module of ``jobs`` or ``rle`` is over 400 lines.
"""

from __future__ import annotations

import ast
import os
import re
import sys
from dataclasses import dataclass

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: The layers, lowest first: a module may import its own layer and those below it.
LAYERS = [
    ("codec", ("rle",)),
    ("base", ("jobs.version", "jobs.errors", "jobs.config", "jobs.cliargs")),
    ("runtime", ("jobs.runtime",)),
    (
        "support",
        (
            "jobs.params",
            "jobs.options",
            "jobs.clusters",
            "jobs.schedulers",
            "jobs.images",
            "jobs.jobspec",
            "jobs.running",
        ),
    ),
    ("jobs", ("jobs.rle_job", "jobs.resize_job", "jobs.stats_job")),
    ("api", ("jobs.registry", "jobs.api", "jobs.samples")),
    ("studies", ("jobs.study",)),
    ("cli", ("jobs.cli", "jobs.__main__")),
]

#: What the runtime may import of this project: nothing above it.
RUNTIME_MAY_IMPORT = ("jobs.runtime", "jobs.errors", "jobs.config")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the project module imported
    line: int
    in_function: bool
    type_checking: bool


def _modules() -> dict[str, str]:
    found = {}
    for pkg in ("jobs", "rle"):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, pkg)):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for f in filenames:
                if f.endswith(".py"):
                    path = os.path.join(dirpath, f)
                    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
                    found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module a dotted name lands in (its longest known prefix), or None for another package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: str) -> list[Import]:
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            checking = type_checking or (isinstance(child, ast.If) and _is_type_checking(child))
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    up = package
                    for _ in range(child.level - 1):
                        up = up.rpartition(".")[0]
                    base = f"{up}.{base}" if base else up
                for alias in child.names:  # a submodule by name is an import of it, not of its package
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in MODULES else base)
            for t in targets:
                hit = _resolve(t) if t.split(".")[0] in ("jobs", "rle") else t
                if hit and hit != module:
                    found.append(Import(module, hit, child.lineno, in_function, checking))
            visit(child, inner, checking)

    visit(tree, False, False)
    return found


#: Every import of every module; ``OURS`` those of a module of this project (what the layers are made of).
IMPORTS = [i for m, p in MODULES.items() for i in _imports(m, p)]
OURS = [i for i in IMPORTS if i.target in MODULES]


def _layer(module: str) -> int:
    if module == "jobs":  # the package: its public names, loaded on first use (jobs.study the highest of them)
        return [name for name, _ in LAYERS].index("studies")
    for k, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return k
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found = []
    counter = 0
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_every_module_is_in_a_layer():
    for module in MODULES:
        _layer(module)


def cycles_in(imports: list[Import]) -> list[list[str]]:
    """Rule: no cycle among what runs (module level and inside functions; not ``TYPE_CHECKING``)."""
    edges: dict[str, set[str]] = {}
    for i in imports:
        if not i.type_checking:
            edges.setdefault(i.source, set()).add(i.target)
    return _cycles(edges)


def upward(imports: list[Import]) -> list[str]:
    """Rule: a module imports its own layer and those below it."""
    return [
        f"{i.source} (layer {LAYERS[_layer(i.source)][0]}) imports {i.target} (layer {LAYERS[_layer(i.target)][0]}), "
        f"line {i.line}"
        for i in imports
        if _layer(i.target) > _layer(i.source)
    ]


def runtime_upward(imports: list[Import]) -> list[str]:
    """Rule: the runtime imports nothing of the project but itself and the base it may use."""
    return [
        f"{i.source} imports {i.target} (line {i.line})"
        for i in imports
        if i.source.startswith("jobs.runtime")
        and not any(i.target == m or i.target.startswith(m + ".") for m in RUNTIME_MAY_IMPORT)
    ]


def unexplained(module: str, lines: list[str], imports: list[Import]) -> list[str]:
    """Rule: an import inside a function says, on its line or the one above, why: an optional extra, or
    a start-up cost with its measure (``~20 ms``, ``~0.5 s``)."""
    found = []
    for i in imports:
        if i.source != module or not i.in_function:
            continue
        said = lines[i.line - 1] + " " + lines[i.line - 2]
        if not ("optional extra" in said or re.search(r"start-up[^#]*~[0-9.]+ ?m?s\b", said)):
            found.append(f"{module}:{i.line}: {lines[i.line - 1].strip()}")
    return found


def test_no_import_cycle_counting_imports_inside_functions():
    assert cycles_in(OURS) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"jobs.api": {"jobs.registry"}, "jobs.registry": {"jobs.api"}}) == [["jobs.api", "jobs.registry"]]


def test_each_layer_imports_only_itself_and_those_below():
    assert upward(OURS) == []


def test_the_runtime_knows_no_job_no_options_no_cluster_and_not_the_codec():
    assert runtime_upward(OURS) == []
    words = re.compile(
        r"compress|resiz|verify|\"stats\"|stats_job|rle\b|RLE|zarr|shard|sidecar|manifest|exercise|\bbmp\b|overwrite"
    )
    for module, path in MODULES.items():  # nor does it name one, even in a comment
        if module.startswith("jobs.runtime"):
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                assert not words.search(line), f"{path}:{n} names a job: {line.strip()}"


def test_a_job_imports_no_other_job():
    jobs = ("jobs.rle_job", "jobs.resize_job", "jobs.stats_job")

    def job_of(m: str) -> str | None:
        return next((j for j in jobs if m == j or m.startswith(j + ".")), None)

    crossing = [
        f"{i.source} imports {i.target}"
        for i in OURS
        if job_of(i.source) and job_of(i.target) and job_of(i.source) != job_of(i.target)
    ]
    assert crossing == []


def test_an_import_inside_a_function_says_why_it_is_there():
    found = []
    for module, path in MODULES.items():
        found += unexplained(module, open(path, encoding="utf-8").read().splitlines(), IMPORTS)
    assert found == []


def test_the_package_loads_its_names_on_first_use_and_editors_see_the_same_ones():
    import jobs

    tree = ast.parse(open(MODULES["jobs"], encoding="utf-8").read())
    seen = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            for imp in ast.walk(node):
                if isinstance(imp, ast.ImportFrom):
                    seen |= {a.asname or a.name for a in imp.names}
    assert seen | {"__version__"} == set(jobs.__all__)
    running = [i.target for i in OURS if i.source == "jobs" and not i.type_checking]
    assert running == ["jobs.version"]  # importing jobs costs nothing
    import jobs.api

    assert set(jobs.__all__) - {"study", "__version__"} <= set(jobs.api.__all__)
    for name in jobs.__all__:
        assert getattr(jobs, name) is not None, name


def test_no_module_is_over_400_lines():
    long = {path: n for path in MODULES.values() if (n := sum(1 for _ in open(path, encoding="utf-8"))) > 400}
    assert long == {}


def test_a_worker_that_runs_a_task_imports_no_job_it_does_not_run(tmp_path):
    """Unpickling a compress task imports the RLE job's tasks, not resize, OpenCV, distributed or the CLI."""
    import subprocess

    code = (
        "import sys, jobs.rle_job.tasks; "
        "bad = [m for m in ('jobs.resize_job', 'jobs.cli', 'jobs.registry', 'cv2', 'distributed', 'jobs.study') "
        "if m in sys.modules]; print(bad)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("rule", "module", "source"),
    [
        ("cycle", "jobs.registry", "from jobs.api import run_job\n"),
        ("upward", "jobs.api", "from jobs.cli.command import run\n"),
        ("runtime", "jobs.runtime.engine", "import rle\n"),
        ("runtime", "jobs.runtime.engine", "from jobs.options import RunOptions\n"),
        ("unexplained", "jobs.api", "def f():\n    import jobs.registry\n"),
        ("unexplained", "jobs.api", "def f():\n    import jobs.registry  # start-up: it is slow\n"),
    ],
)
def test_each_rule_fails_on_a_module_that_breaks_it(rule, module, source, tmp_path):
    """A module breaking each rule is caught by the very function the test above uses: the rules can fail."""
    path = tmp_path / "fake.py"
    path.write_text(source)
    found = [i for i in _imports(module, str(path)) if i.target in MODULES]
    if rule == "cycle":
        assert cycles_in([*OURS, *found])
    elif rule == "upward":
        assert upward(found)
    elif rule == "runtime":
        assert runtime_upward(found)
    else:
        assert unexplained(module, source.splitlines(), found)
        said = "def f():\n    import jobs.registry  # start-up: ~5 ms, paid when asked\n"
        assert not unexplained(module, said.splitlines(), found)  # the same import, with its measure


def test_every_mutant_still_applies_to_the_code_it_breaks():
    """scripts/mutants.py names one exact piece of source per guard: a refactor that moves it makes the
    mutant stale (a promise left unchecked), found here in a second rather than by CI's mutation step."""
    import importlib.util  # the script is no module of the package: loaded from its path

    spec = importlib.util.spec_from_file_location("imgjobs_mutants", os.path.join(ROOT, "scripts", "mutants.py"))
    assert spec and spec.loader
    mutants = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mutants  # dataclasses look their module up while the script loads
    try:
        spec.loader.exec_module(mutants)
    finally:
        del sys.modules[spec.name]
    stale = []
    for m in mutants.MUTANTS:
        with open(os.path.join(ROOT, m.path), encoding="utf-8") as f:
            count = f.read().count(m.original)
        if count != 1:
            stale.append(f"{m.name} ({m.path}): the original appears {count} time(s)")
        for t in m.tests:
            assert os.path.exists(os.path.join(ROOT, t.split("::")[0])), f"{m.name}: no test file {t}"
    assert not stale, "stale mutants in scripts/mutants.py:\n" + "\n".join(stale)
    assert len({m.name for m in mutants.MUTANTS}) == len(mutants.MUTANTS), "two mutants share a name"
