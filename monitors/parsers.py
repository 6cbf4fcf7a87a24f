"""Every built-in kind together with its parser libraries, imported at once.

The command line loads a parser only when it first parses a body of that kind
(docs/architecture.md, "Start-up"). A parsing worker is the opposite case: it will parse
every kind, and importing the parsers before the first job, in the worker pool's fork
server, lets each forked worker start with them in memory.
"""

from __future__ import annotations

import feedparser  # noqa: F401
import pypdf  # noqa: F401
import selectolax.lexbor  # noqa: F401
import w3lib.url  # noqa: F401

from monitors import monitor_kinds

monitor_kinds()  # imports (so registers) every built-in kind
