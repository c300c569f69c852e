"""A Sphinx extension for an API reference of public names only (``jobs.<name>``, ``rle.<name>``).

**References.** The API reference documents only the public, top-level names (``jobs.Report``); docstrings
also link objects by their module path (``jobs.report.Report``), which the modules' layout
decides and which may change.  On a reference nothing documents:

- an object that *is* a public one (the same object) links to the public name;
- any other object that exists in the package (an internal module or name) is shown as code,
  unlinked: it is not part of the documented API;
- a name that does not exist stays a missing reference, which ``-n -W`` makes an error:
  a docstring that names a moved or removed object fails the build.

**Constants.** A constant re-exported at the top level (``rle.CHUNK``) has its ``#:`` doc
comment in the module that defines it, where autodoc does not look: its entry takes the
comment of the submodule holding that very object.
"""

from __future__ import annotations

import importlib
import pkgutil

from sphinx.errors import PycodeError
from sphinx.pycode import ModuleAnalyzer

_MISSING = object()
_PACKAGES = ("jobs", "rle")


def _lookup(path: str):
    """The object a dotted path names (a module, or attributes of one), or _MISSING."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, _MISSING)
            if obj is _MISSING:
                return _MISSING
        return obj
    return _MISSING


def _candidates(node) -> list[str]:
    """Where a reference may point: as written, or relative to the current module or class and
    to the module the class really lives in (a docstring's bare ``STATUSES``)."""
    target = node.get("reftarget", "").lstrip("~.")
    module, cls = node.get("py:module") or "", node.get("py:class") or ""
    found = [target]
    if module:
        found.append(f"{module}.{target}")
        if cls:
            found.append(f"{module}.{cls}.{target}")
            real = getattr(_lookup(f"{module}.{cls}"), "__module__", None)
            if real:
                found += [f"{real}.{target}", f"{real}.{cls}.{target}"]
    return [c for c in found if c.split(".")[0] in _PACKAGES]


def _public_name(obj, path: str) -> str | None:
    """``package.name`` when obj is the public name's object, under another path."""
    package = importlib.import_module(path.split(".")[0])
    for name in package.__all__:
        if getattr(package, name) is obj and f"{package.__name__}.{name}" != path:
            return f"{package.__name__}.{name}"
    return None


def _resolve(app, env, node, contnode):
    if node.get("refdomain") != "py":
        return None
    for path in _candidates(node):
        obj = _lookup(path)
        if obj is _MISSING:
            continue
        public = _public_name(obj, path)
        if public:
            domain = env.get_domain("py")
            found = domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], public, node, contnode)
            if found is not None:
                return found
        return contnode  # the name as written, as code, unlinked
    return None


def _doc_comment(app, what, name, obj, options, lines):
    package_name, _, attr = name.rpartition(".")
    if what != "data" or package_name not in _PACKAGES:
        return
    package = importlib.import_module(package_name)
    for info in pkgutil.iter_modules(package.__path__, f"{package_name}."):
        module = importlib.import_module(info.name)
        if getattr(module, attr, _MISSING) is not obj:
            continue
        try:
            analyzer = ModuleAnalyzer.for_module(info.name)
            analyzer.analyze()  # cached; older Sphinx fills attr_docs only here
        except PycodeError:
            continue
        comment = analyzer.attr_docs.get(("", attr))
        if comment:
            lines[:] = list(comment)
            return


def setup(app):
    app.connect("missing-reference", _resolve)
    app.connect("autodoc-process-docstring", _doc_comment)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
