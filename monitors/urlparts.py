"""The parts of a link that learning scopes and strips: where a parameter is learned
(``link_scope``) and the ``;name=value`` parameters of a path's last segment."""

from __future__ import annotations

from urllib.parse import urlsplit

#: Marks a parameter of a path's last segment among learned parameter names.
MATRIX = ";"


def path_parameters(path: str) -> tuple[str, list[tuple[str, str]]]:
    """A path without the ``;name=value`` parameters of its last segment, and those."""
    directory, slash, last = path.rpartition("/")
    name, semicolon, rest = last.partition(";")
    if not semicolon:
        return path, []
    pairs = [part.partition("=") for part in rest.split(";") if part]
    return f"{directory}{slash}{name}", [(key, value) for key, _, value in pairs]


def link_scope(url: str) -> str:
    """Where a parameter is learned: scheme, host and the path's directory."""
    parts = urlsplit(url)
    directory = parts.path.rsplit("/", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{directory}/"
