"""``fresh``: per-request page noise of real official sites (Drupal, WordPress, SharePoint,
ASP.NET and Java portals, sites behind a CDN) in forms neither the world nor the other sets
of ``benchmarks/unseen_noise.py`` serve, for ``benchmarks/noise.py --kinds fresh``.

Every form changes from one request to the next (``r.rng``, ``r.now`` or ``r.n``), so two
copies moments apart show it, and all words come from the organization's random
vocabulary (language codes and the markup of the CMS aside).
"""

from __future__ import annotations

import base64
import zlib

from tests.integration.noise_world import Form, Req, word

_LANGS = (("en", "English"), ("fr", "Français"), ("es", "Español"), ("ar", "العربية"),
          ("ru", "Русский"), ("zh", "中文"))


def _pool(r: Req, key: str) -> list[str]:
    return r.vocab[key].split("|")


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def _heads(r: Req) -> list[str]:
    """One word per title of the organization's pool: partners, tags."""
    return [t.split()[0].lower() for t in _pool(r, "pool")]


def _token(r: Req, nbytes: int) -> str:
    """A URL-safe token as Drupal's form_build_id or a CDN signature shows it."""
    return base64.urlsafe_b64encode(r.rng.randbytes(nbytes)).decode().rstrip("=")


def _cfemail(r: Req) -> str:
    """An address encoded as Cloudflare's email protection does: a random key per
    response, each byte of the address xor-ed with it."""
    key = r.rng.randrange(256)
    address = f"{r.vocab['label5']}@{r.vocab['param']}.example.org".encode()
    return f"{key:02x}" + "".join(f"{b ^ key:02x}" for b in address)


def _cache_age(r: Req) -> float:
    """Seconds since a cache with a five-minute lifetime was refreshed: ticks with the
    clock."""
    return r.now.timestamp() % 300


def _size(tag: str) -> float:
    """A tag's size in a cloud: its weight, the same at every request."""
    return 0.8 + zlib.crc32(tag.encode()) % 9 / 10


def _rotated(items: list[str], k: int) -> list[str]:
    return items[k:] + items[:k]


def _featured_doc(r: Req) -> str:
    """One of the archive's titles, linked as the listing links its documents."""
    t = r.rng.choice(_pool(r, "pool"))
    return (f'<div><h3>Featured publication</h3><p><a href="docs/report-on-{_slug(t)}.pdf">'
            f"Report on {t.lower()}</a></p></div>")


def _featured_aside(r: Req) -> str:
    t = r.rng.choice(_pool(r, "pool"))
    return (f'<p>{r.vocab["label3"]}: <a href="publications/{_slug(t)}">{t}</a> '
            f"({r.rng.randint(2009, 2025)})</p>")


def _switcher(r: Req) -> str:
    current = r.rng.choice(_LANGS)[0]
    return "<ul>" + "".join(
        f"<li><strong>{code.upper()}</strong></li>" if code == current
        else f'<li><a href="/{code}/" hreflang="{code}">{code.upper()}</a></li>'
        for code, _ in _LANGS) + "</ul>"


def _also_in(r: Req) -> str:
    code, name = r.rng.choice(_LANGS[1:])
    return f'<p>{r.vocab["label3"]} is also available in <a href="/{code}/">{name}</a></p>'


def _cf_footer(r: Req) -> str:
    e = _cfemail(r)
    return (f'<p>{r.vocab["label3"]}: <a href="/cdn-cgi/l/email-protection#{e}" '
            f'data-cfemail="{e}">[email&#160;protected]</a></p>')


FRESH: dict[str, list[Form]] = {
    # Drupal's form_build_id and a CSRF token in hidden inputs; a token in data- attributes.
    "form-token": [
        lambda r: ("aside", f'<form action="search" method="get"><input type="hidden" '
                            f'name="form_build_id" value="form-{_token(r, 32)}"><input '
                            f'type="hidden" name="{r.vocab["param2"]}" value='
                            f'"{r.rng.getrandbits(128):032x}"><input type="search" name="q" '
                            f'placeholder="{r.vocab["label3"]}"><button>{r.vocab["label6"]}'
                            "</button></form>"),
        lambda r: ("top", f'<div data-{r.vocab["param"]}-token="{r.rng.getrandbits(96):x}" '
                          f'data-{r.vocab["param"]}-ts="{int(r.now.timestamp() * 1000)}">'
                          f"<p>{r.vocab['label4'].capitalize()}</p></div>")],
    # Media behind a CDN: signed URLs that expire, responsive images with hashed paths.
    "signed-media": [
        lambda r: ("top", f'<img src="/media/{r.vocab["label5"]}.jpg?Expires='
                          f'{int(r.now.timestamp()) + 3600}&amp;Signature={_token(r, 24)}" '
                          f'alt="{r.vocab["label3"]}">'),
        lambda r: ("aside", "<picture><source srcset=\"" + ", ".join(
            f"/img/{r.rng.getrandbits(40):x}/{r.vocab['label5']}-{w}.webp {w}w"
            for w in (480, 960)) + f'"><img src="/img/{r.rng.getrandbits(40):x}/'
            f'{r.vocab["label5"]}-480.jpg" alt="{r.vocab["label4"]}"></picture>')],
    # A "featured publication" drawn at each request from the archive.
    "featured-archive": [lambda r: ("mid", _featured_doc(r)),
                         lambda r: ("aside", _featured_aside(r))],
    # A tag cloud in a random order (each tag keeps its weight); hashtags shuffled.
    "tag-cloud": [
        lambda r: ("aside", "<div>" + " ".join(
            f'<a href="tags/{t}" style="font-size:{_size(t):.1f}em">{t}</a>'
            for t in r.rng.sample(_heads(r), 8)) + "</div>"),
        lambda r: ("top", "<p>" + " ".join(f"<span>#{t}</span>"
                                           for t in r.rng.sample(_heads(r), 6)) + "</p>")],
    # Partners' logos, linked, in a random order; partners named in a random order.
    "partner-logos": [
        lambda r: ("footer", "<ul>" + "".join(
            f'<li><a href="https://{t}.example.org/"><img src="/logos/{t}.svg" '
            f'alt="{t.title()}"></a></li>' for t in r.rng.sample(_heads(r)[:5], 5)) + "</ul>"),
        lambda r: ("aside", "<p>With the support of " + ", ".join(
            f'<a href="https://{t}.example.org/">{t.title()}</a>'
            for t in r.rng.sample(_heads(r)[:4], 4)) + ".</p>")],
    # Per-request data in JSON-LD, and a script a theme filter wrapped in a paragraph
    # (WordPress's wpautop), so that its text shows.
    "inline-data-leak": [
        lambda r: ("aside", '<script type="application/ld+json">{"@context": '
                            '"https://schema.org", "@type": "WebPage", "name": '
                            f'"{r.vocab["label3"]}", "dateModified": "{r.now.isoformat()}", '
                            f'"identifier": "{r.rng.getrandbits(64):x}"}}</script>'),
        lambda r: ("mid", f"<p>var {r.vocab['param']}_cfg = {{\"nonce\": "
                          f"\"{r.rng.getrandbits(64):x}\", \"t\": "
                          f"{int(r.now.timestamp() * 1000)}}};</p>")],
    # The age of a cached fragment, ticking with the clock.
    "cache-age": [
        lambda r: ("aside", f"<p>{r.vocab['label4'].capitalize()} refreshed "
                            f"{_cache_age(r):.1f} seconds ago</p>"),
        lambda r: ("top", f"<small>Cached {int(_cache_age(r)) // 60} min "
                          f"{int(_cache_age(r)) % 60:02d} s ago</small>")],
    # Which server of a pool answered: one of a few, or with its response time.
    "server-host": [
        lambda r: ("footer", f"<p>{r.vocab['label6']} · {r.vocab['label5']}-"
                             f"{r.rng.randint(1, 4):02d}</p>"),
        lambda r: ("top", f"<small>Served by {r.vocab['label5']}{r.rng.randint(1, 9)} in "
                          f"{r.rng.randint(40, 900)} ms</small>")],
    # A live figure in a locale's separators: narrow no-break spaces, or "." and ",".
    "locale-figures": [
        lambda r: ("top", f"<p>{r.vocab['label3']}: "
                          + f"{8_100_000_000 + int(r.now.timestamp() * 2.4) % 10**8:,}"
                          .replace(",", "\u202f") + "</p>"),
        lambda r: ("aside", f"<p>{r.vocab['label6']} "
                            + f"{r.rng.uniform(1000, 99999):,.2f}".translate(
                                str.maketrans(",.", ".,")) + " EUR</p>")],
    # The language switcher marks the language a request was matched to as current.
    "language-switch": [lambda r: ("top", _switcher(r)), lambda r: ("aside", _also_in(r))],
    # Drupal's math CAPTCHA and an image CAPTCHA on a contact or comment form.
    "captcha": [
        lambda r: ("aside", f"<form><label>{r.vocab['label2'].capitalize()}: "
                            f"{r.rng.randint(1, 9)} + {r.rng.randint(1, 9)} =</label>"
                            '<input name="captcha_response"><input type="hidden" '
                            f'name="captcha_sid" value="{r.n + 5000}"></form>'),
        lambda r: ("mid", f'<form><img src="/image_captcha?sid={r.n + 9000}&amp;ts='
                          f'{int(r.now.timestamp())}" alt="{r.vocab["label4"]}"><input '
                          f'type="hidden" name="captcha_token" value="{_token(r, 16)}">'
                          "</form>")],
    # A carousel that starts at a random slide: the same slides, rotated.
    "carousel": [
        lambda r: ("mid", "<div>" + "".join(
            f'<div><h3><a href="news/{_slug(" ".join(t.split()[:2]))}">'
            f"{' '.join(t.split()[:2])}</a></h3><p>{t}</p></div>"
            for t in _rotated(_pool(r, "asides"), r.rng.randrange(5))) + "</div>"),
        lambda r: ("top", "<nav><span>‹</span>" + "".join(
            f'<a href="stories/{_slug(t)}">{t}</a>'
            for t in _rotated(_pool(r, "pool")[:4], r.rng.randrange(4)))
            + "<span>›</span></nav>")],
    # A video embedded with a share id the player's host adds per request.
    "video-embed": [
        lambda r: ("mid", f'<iframe src="https://www.youtube-nocookie.com/embed/'
                          f'{r.vocab["param"]}{r.vocab["label5"]}?si={_token(r, 12)}" '
                          f'title="{r.vocab["label3"]}"></iframe>'),
        lambda r: ("aside", f'<p><a href="https://youtu.be/{r.vocab["param"]}'
                            f'{r.vocab["label5"]}?si={_token(r, 12)}">'
                            f"{r.vocab['label4'].capitalize()}</a></p>")],
    # Addresses hidden from harvesters: Cloudflare's per-response key, or hidden decoys.
    "email-protect": [
        lambda r: ("footer", _cf_footer(r)),
        lambda r: ("aside", f"<p>{r.vocab['label5']}<span style=\"display:none\">"
                            f"{word(r.rng)}</span>@<span style=\"display:none\">"
                            f"{word(r.rng)}</span>{r.vocab['param']}.example.org</p>")],
    # Heading anchors with ids generated per render, linked from a table of contents or
    # a skip link.
    "anchor-ids": [
        lambda r: ("aside", "<ul>" + "".join(
            f'<li><a href="#{_slug(t)[:12]}-{r.rng.getrandbits(24):x}">{t}</a></li>'
            for t in _pool(r, "related")[:3]) + "</ul>"),
        lambda r: ("top", f'<a href="#main-{r.rng.getrandbits(32):x}">Skip to '
                          f"{r.vocab['label2']}</a>")],
    # The time the page took to render: a CMS's timer, a debug footer.
    "render-time": [
        lambda r: ("footer", f"<p>{r.vocab['label6']} generated in "
                             f"{r.rng.uniform(0.01, 2):.4f} seconds.</p>"),
        lambda r: ("aside", f"<p>{r.rng.randint(12, 180)} queries · "
                            f"{r.rng.uniform(2, 64):.1f} MB · {r.rng.randint(20, 900)} ms</p>")],
    # A session in a link's path: ASP.NET's cookieless sessions, Java's jsessionid.
    "url-session": [
        lambda r: ("aside", f'<p><a href="/(S({_token(r, 18).lower()}))/{r.vocab["label5"]}/'
                            f'default.aspx">{r.vocab["label3"]}</a></p>'),
        lambda r: ("footer", f'<p><a href="/{r.vocab["label5"]}/contact;jsessionid='
                             f'{r.rng.getrandbits(128):032X}">{r.vocab["label4"]}</a></p>')],
}
