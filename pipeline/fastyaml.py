"""The fast reading of config.yaml: libyaml's parser (in C) under ruamel's YAML 1.2 rules.

``pipeline.config`` reads the file with ruamel's round-trip loader, which keeps the line
of every key so that an error can name it. It is pure Python: 0.3 s for 1000 monitors.
A valid file does not need the lines, so ``load_plain`` reads it with the C parser into
plain dicts and lists (about 0.03 s) and the config is validated from those; only when
that fails is the file read again the slow way, to report the error with its line.

The fast reading must never accept what the slow one refuses, nor read a value
differently (``at: 12:30`` and ``on`` stay strings: YAML 1.2, as the round-trip loader
reads them). So it declines (returns None, and the slow path decides) when:

- the C parser is not installed (``ruamel.yaml[libyaml]``);
- the file has a character the two parsers treat differently: a tab (libyaml takes it as
  a separator where the round-trip parser refuses it), a YAML 1.1 line break (NEL, LS,
  PS: line breaks to libyaml, text to YAML 1.2) or a byte order mark past the start;
- the file has a directive (``%YAML 1.1`` changes the rules) or a tag (``!!str 3``: the
  round-trip loader keeps a tagged value as such, which validation refuses);
- it has an anchor, an alias or a merge key: the slow path limits what aliases expand
  to, and merged keys come out in another order;
- it could nest deeper than ``MAX_DEPTH``: the C parser recurses on the C stack and
  crashes the process near 27,000 levels (8 MiB stack), where the slow path reports
  "nested too deeply";
- the parser raises anything at all, a key is not a string, or there are more than
  ``max_values`` values.
"""

from __future__ import annotations

import re
from typing import Any

from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.resolver import VersionedResolver

try:
    from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]  # not in its __all__
except ImportError:  # no C parser: every file takes the slow path
    CParser = None

# Far below the crash, so a smaller stack (a thread's) is safe too.
MAX_DEPTH = 5000
_DIRECTIVE = re.compile(r"^%", re.MULTILINE)
# Read differently by the two parsers (found by mutating the README's examples).
_AMBIGUOUS = re.compile("[\t\x85\u2028\u2029]|(?<=.)\ufeff", re.DOTALL)
# A tag (``!`` starts one, even alone), an anchor or alias (``&name``, ``*name``), or a
# merge key, where a token may start. Quoted or plain text that merely looks like one
# sends the file down the slow path, which is correct, only slower.
_NODE_PROPERTY = re.compile(r"(?:^|[\s\[{,])(?:!|[&*][^\s,\[\]{}])|<<\s*:")


class _PlainLoader(CParser, SafeConstructor, VersionedResolver):  # type: ignore[misc]
    """libyaml parses and composes; ruamel resolves (YAML 1.2) and builds plain values."""

    # Files with a %YAML directive never get here, so the version is always 1.2; as a
    # constant it saves the resolver's look-up per scalar (a third of the load time).
    processing_version = (1, 2)

    def __init__(self, text: str) -> None:
        CParser.__init__(self, text)
        self._parser = self._composer = self
        SafeConstructor.__init__(self, loader=self)
        VersionedResolver.__init__(self, loadumper=self)


def could_nest_deeper_than(text: str, depth: int) -> bool:
    """Whether ``text`` might nest more than ``depth`` levels (never a wrong "no").

    Each flow level opens with ``[`` or ``{``; each two block levels need at least one
    more column of indentation or indicators, so a line's length bounds them.
    """
    longest = max(map(len, text.splitlines()), default=0)
    return text.count("[") + text.count("{") + 2 * longest + 2 > depth


def load_plain(text: str, max_values: int) -> Any | None:
    """The YAML document as plain values, or None when only the slow path may read it."""
    if CParser is None or _AMBIGUOUS.search(text) or _DIRECTIVE.search(text) or \
            _NODE_PROPERTY.search(text):
        return None
    if could_nest_deeper_than(text, MAX_DEPTH):
        return None
    loader = _PlainLoader(text)
    try:
        data = loader.get_single_data()
    except Exception:  # noqa: BLE001 - any failure here is the slow path's to report
        return None
    finally:
        loader.dispose()
    if not _plain_keys_within(data, max_values):
        return None
    return data


def _plain_keys_within(data: Any, max_values: int) -> bool:
    """Every mapping key a string, and no more than ``max_values`` values in all."""
    pending, seen = [data], 0
    while pending:
        node = pending.pop()
        seen += 1
        if seen > max_values:
            return False
        if isinstance(node, dict):
            if not all(isinstance(key, str) for key in node):
                return False
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return True
