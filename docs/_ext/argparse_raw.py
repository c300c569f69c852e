"""A Sphinx extension: sphinx-argparse shows preformatted help text as it is preformatted.

``imgjobs`` builds its parsers with ``RawDescriptionHelpFormatter``: their epilogs (the
scheduler table, the examples) are laid out in columns for a terminal.  sphinx-argparse
reads every description and epilog as reStructuredText, where those columns are malformed
definition lists.  This wraps sphinx-argparse's ``parse_parser`` so that, for such parsers,
a description or epilog of several lines becomes a literal block: the page shows what
``imgjobs ... --help`` prints.  One-line descriptions stay paragraphs.
"""

from __future__ import annotations

import argparse
import textwrap

import sphinxarg.ext


def _raw_as_literal(parser: argparse.ArgumentParser) -> None:
    if issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter):
        for attr in ("description", "epilog"):
            text = getattr(parser, attr)
            if text and "\n" in text.strip():
                setattr(parser, attr, "::\n\n" + textwrap.indent(text.rstrip(), "   "))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in {id(p): p for p in action.choices.values()}.values():  # aliases: once each
                _raw_as_literal(sub)


def setup(app):
    parse_parser = sphinxarg.ext.parse_parser

    def parse_raw_as_literal(parser, *args, **kwargs):
        _raw_as_literal(parser)  # a fresh parser each time: the directive calls build_parser()
        return parse_parser(parser, *args, **kwargs)

    sphinxarg.ext.parse_parser = parse_raw_as_literal
    return {"parallel_read_safe": True, "parallel_write_safe": True}
