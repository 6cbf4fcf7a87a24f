"""Where each page of the archive site lives, and absolute links to it.

The site (``notifications/site``) writes its files at these paths and links between them
relatively; the channels link a change to its page only when the site's ``public_url``
is known, so nothing ever links to a ``file://`` path a reader elsewhere cannot open.
"""

from __future__ import annotations

from dataclasses import dataclass

INDEX = "index.html"
STYLE = "style.css"
HEADS = "heads.json"
VERIFY = "verify.html"


def change_path(change_id: int) -> str:
    return f"change/{change_id}.html"


def monitor_path(monitor_id: str) -> str:
    return f"monitor/{monitor_id}.html"


def monitor_text_path(monitor_id: str) -> str:
    """The monitor's latest extracted text, as plain text (never the raw body, which may
    be HTML that a browser would run)."""
    return f"monitor/{monitor_id}.txt"


def organization_path(org_id: str, page: int | None = None) -> str:
    """The organization's newest page (``page`` None) or one of its numbered pages,
    counted from the oldest so a full page never changes again."""
    return f"org/{org_id}/{INDEX if page is None else f'{page}.html'}"


def absolute(base: str, path: str) -> str:
    """``path`` under the public URL ``base`` (which may or may not end with a slash)."""
    return base.rstrip("/") + "/" + path


@dataclass(frozen=True, slots=True)
class SiteLinks:
    """Absolute links into the site; every one is ``None`` without a public URL."""

    public_url: str | None = None

    def _under(self, path: str) -> str | None:
        return absolute(self.public_url, path) if self.public_url else None

    def change(self, change_id: int) -> str | None:
        return self._under(change_path(change_id))

    def organization(self, org_id: str) -> str | None:
        return self._under(organization_path(org_id))

    def monitor(self, monitor_id: str) -> str | None:
        return self._under(monitor_path(monitor_id))

    @property
    def index(self) -> str | None:
        return self._under(INDEX)

    @property
    def heads(self) -> str | None:
        return self._under(HEADS)
