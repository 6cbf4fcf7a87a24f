"""Status signals: what a response says about a page besides its content.

Pure functions over a fetch result (and, after extraction, its content). A signal is a
state a monitor enters and leaves; entering it is a change of its own kind, reported once.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from core.records import Extracted, FetchResult

REMOVED = "removed"
SOFT_404 = "soft-404"
BLOCKED = "blocked"
NEEDS_JS = "needs-js"
SIGNALS = (REMOVED, SOFT_404, BLOCKED, NEEDS_JS)

GONE_STATUSES = frozenset({404, 410})
BLOCK_STATUSES = frozenset({403, 429})
# A bot wall's interstitial page, whatever its status (Cloudflare, Akamai, Imperva...), is
# known by its title or by a string only the interstitial carries. Scripts the same
# services put into normal pages (Cloudflare's /cdn-cgi/challenge-platform/.../jsd/,
# Imperva's /_Incapsula_Resource?SWJIYLWA=, Turnstile's cf-chl-widget) are not walls.
_CHALLENGE_TITLES = frozenset({
    "just a moment...", "attention required! | cloudflare", "access denied", "ddos-guard",
    "request rejected",
})
_CHALLENGE_TITLE_STARTS = (
    "access denied |", "please wait while your request is being verified",
    "checking your browser", "pardon our interruption",
)
_CHALLENGE_MARKERS = (b"cf_chl_opt", b"Incapsula incident ID")
_CHALLENGE_WINDOW = 65536
# Interstitials carry their title early; a page's own may follow kilobytes of head.
_TITLE_WINDOW = 8192
_TITLE = re.compile(rb"<title[^>]*>([^<]{0,200})", re.IGNORECASE)
_NOT_FOUND_TITLE = re.compile(
    r"\b(?:page not found|not found|error 404|404|page (?:does not|doesn't) exist|"
    r"no longer available|page introuvable|página no encontrada|pagina no encontrada)\b",
    re.IGNORECASE,
)
_HOME_PATHS = frozenset({"", "/", "/index.html", "/index.php", "/en", "/en/", "/home"})
# An app shell (scripts + a mount point or a <noscript> plea) with less readable text
# than this is rendered by JavaScript: the monitor sees nothing of it.
NEEDS_JS_MAX_CHARS = 200


def is_challenge(body: bytes | None) -> bool:
    """Is this a bot wall's interstitial page (not a page that loads a wall's scripts)?"""
    body = body or b""
    title = _TITLE.search(body, 0, _TITLE_WINDOW)
    if title is not None:
        text = " ".join(title.group(1).decode("utf-8", "replace").split()).lower()
        if text in _CHALLENGE_TITLES or text.startswith(_CHALLENGE_TITLE_STARTS):
            return True
    return any(body.find(marker, 0, _CHALLENGE_WINDOW) >= 0 for marker in _CHALLENGE_MARKERS)


def response_signal(fetched: FetchResult) -> str | None:
    """A signal known before extraction: gone, blocked, or redirected to the home page."""
    status = fetched.status or 0
    if status in GONE_STATUSES:
        return REMOVED
    if status in BLOCK_STATUSES or (status in (200, 503) and is_challenge(fetched.body)):
        return BLOCKED
    if fetched.redirects and fetched.final_url and status < 300:
        before, after = urlsplit(fetched.url).path, urlsplit(fetched.final_url).path
        if after in _HOME_PATHS and before not in _HOME_PATHS:
            return SOFT_404
    return None


def content_signal(kind: str, extracted: Extracted, *, rendered: bool = False) -> str | None:
    """A signal only the content shows: a "not found" title, or a page that needs JS
    (never said of a page a browser rendered: what it shows is all there is)."""
    if kind != "page":
        return None
    title = str(extracted.data.get("title") or "")
    if title and _NOT_FOUND_TITLE.search(title):
        return SOFT_404
    if not rendered and len(extracted.text) < NEEDS_JS_MAX_CHARS \
            and extracted.data.get("js_shell"):
        return NEEDS_JS
    return None


def moved(previous_url: str | None, current_url: str | None) -> bool:
    """Did the final URL move to another host or path (query and trailing slash aside)?"""
    if not previous_url or not current_url:
        return False
    old, new = urlsplit(previous_url), urlsplit(current_url)
    return (old.hostname, old.path.rstrip("/")) != (new.hostname, new.path.rstrip("/"))


#: What to do about a signal, where there is something to do.
ADVICE = {
    NEEDS_JS: "its content is built by JavaScript: set `render: browser` on the monitor to "
              "compare what a browser shows (docs/render.md)",
}


def describe(signal: str, fetched: FetchResult) -> str:
    status = fetched.status
    return {
        REMOVED: f"page removed: HTTP {status}",
        SOFT_404: f"page gone (soft 404): now {fetched.final_url}",
        BLOCKED: f"blocked by the site (HTTP {status}): content not compared",
        NEEDS_JS: "page shows almost no text without JavaScript: the monitor sees nothing",
    }[signal]
