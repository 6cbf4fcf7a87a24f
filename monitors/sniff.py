"""Looks at a body before a parser does: is it text at all, does it declare XML entities?

- A server that sends an image, an archive or random bytes as ``text/html`` would
  otherwise yield "text" made of replacement characters, and a new "change" every time
  the bytes differ. The page kind refuses such a body with a message that names it.
- feedparser hands feeds to expat, which expands entities declared in the document. Its
  own DOCTYPE filter is a line-anchored regex (entities on one line pass), and expat's
  amplification limit only starts at 8 MiB of output: one 600-byte "billion laughs" feed
  cost 0.9 s and 140 MB. A feed that declares an entity is refused before parsing;
  defusedxml confirms the declaration (so ``<!ENTITY`` inside a CDATA section passes).
  The check reads the decoded text, not the bytes: expat decodes UTF-7, EBCDIC and the
  rest by itself, where ``<!ENTITY`` has other bytes (a 3 MB billion laughs in cp037
  took 51 s and 2.5 GB). So the document is decoded first and the parser is handed that
  very text as UTF-8 (``utf8_xml``).
"""

from __future__ import annotations

import re

# Leading bytes of formats that are never HTML.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "gzip-compressed data"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office document"),
    (b"\x7fELF", "an executable"),
)
# UTF-16 and UTF-32 text is full of NUL bytes; its byte order mark says so.
TEXT_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_WINDOW = 1024
_MIN_SAMPLE = 64
# C0 control characters that text never uses (tab, newlines, form feed and escape, which
# ISO-2022 encodings use, are left out).
_CONTROL = frozenset(set(range(0x00, 0x09)) | {0x0B} | set(range(0x0E, 0x1B))
                     | set(range(0x1C, 0x20)))
_NOT_CONTROL = bytes(byte for byte in range(256) if byte not in _CONTROL)


def binary_kind(body: bytes, content_type: str = "") -> str | None:
    """What the body is when it is clearly not text (None: it may well be text)."""
    head = body[:_WINDOW]
    for signature, name in SIGNATURES:
        if head.startswith(signature):
            return name
    if head.startswith(TEXT_BOMS) or "utf-16" in content_type.lower() or (
        "utf-32" in content_type.lower()
    ):
        return None
    if len(head) < _MIN_SAMPLE or _utf8(head):
        return None  # valid UTF-8 is text, whatever characters it holds
    controls = len(head.translate(None, _NOT_CONTROL))
    return "binary data" if controls * 20 > len(head) else None


def _utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The window may end inside a multi-byte character.
        return exc.reason == "unexpected end of data" and exc.start >= len(head) - 3
    return True


#: The leading bytes of an XML document without a byte order mark, by encoding family
#: (XML 1.0, appendix F): enough to read its declaration, which names the exact encoding.
_XML_FAMILIES: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x4c\x6f\xa7\x94", "cp037"),  # "<?xm" in EBCDIC
)
_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_DECLARATION = re.compile(r"""\A\s*<\?xml\b[^>]*?\?>""")
_DECLARED_ENCODING = re.compile(r"""\bencoding\s*=\s*["']([A-Za-z0-9._:-]{1,40})["']""")
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]{1,40})""", re.IGNORECASE)
#: The declaration of every document handed to the XML parser: it is always UTF-8.
UTF8_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'


def _decoded(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeError, LookupError):  # LookupError: no such codec, or not for text
        return None


def xml_readings(body: bytes, content_type: str = "") -> list[str]:
    """An XML document's text as a reader would decode it, first, then how else the
    document claims to be read (its declaration and the HTTP charset may disagree).

    First is the byte order mark, else (for a document in UTF-16, UTF-32 or EBCDIC) its
    declaration, else the HTTP charset, else its declaration, else UTF-8, else
    windows-1252, else Latin-1 (which always decodes). Each text keeps its declaration;
    ``utf8_xml`` replaces it.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            text = _decoded(body[len(bom):], encoding)
            if text is not None:
                return [text]
    family = next((enc for lead, enc in _XML_FAMILIES if body.startswith(lead)), None)
    head = body[:400].decode(family or "latin-1", errors="replace")
    match = _DECLARATION.match(head)
    declared_match = _DECLARED_ENCODING.search(match.group(0)) if match else None
    declared = declared_match.group(1) if declared_match else None
    charset_match = _CHARSET.search(content_type)
    charset = charset_match.group(1) if charset_match else None
    if family is not None and declared and declared.lower().startswith(family[:6]):
        declared = family  # "UTF-16" without a byte order mark: the family's order
    if family is not None:  # an ASCII-based charset from HTTP cannot be right
        claimed, fallbacks = [declared], [family]
    else:
        claimed, fallbacks = [charset, declared], ["utf-8", "windows-1252"]
    readings: list[str] = []
    for encoding in dict.fromkeys(c.lower() for c in claimed if c):
        text = _decoded(body, encoding)
        if text is not None and text not in readings:
            readings.append(text)
    for encoding in fallbacks if not readings else ():
        text = _decoded(body, encoding)
        if text is not None:
            return [text]
    return readings or [body.decode("latin-1")]


def utf8_xml(text: str) -> bytes:
    """The document as UTF-8 bytes with a declaration that says so: what a parser is
    given, so that it reads the very text that was checked (``entity_declaration``),
    whatever encoding the source used or claimed."""
    text = _DECLARATION.sub("", text, count=1)
    # A lone surrogate (from UTF-7, say) cannot be UTF-8; it is not markup either.
    return (UTF8_DECLARATION + text).encode("utf-8", errors="replace")


def entity_declaration(document: bytes) -> str | None:
    """Why the XML document must not be parsed (it declares entities), or None.

    ``document`` is what ``utf8_xml`` made: looking for the declaration in the raw bytes
    would miss one written in UTF-7 (``+ADw-!ENTITY``), EBCDIC or any other encoding the
    parser would have decoded by itself.
    """
    if b"<!ENTITY" not in document:
        return None
    # Only a feed that declares entities needs the XML parsers (10 ms to import).
    import xml.etree.ElementTree as ElementTree

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring as defused_fromstring

    try:
        defused_fromstring(document, forbid_dtd=False, forbid_entities=True,
                           forbid_external=True)
    except DefusedXmlException as exc:
        name = getattr(exc, "name", None)
        source = getattr(exc, "sysid", None)
        described = f"entity {name!r}" if name else "an entity"
        if source:
            described += f" from {source!r}"
        return f"the document declares XML {described}"
    except (ElementTree.ParseError, ValueError, UnicodeError, LookupError):
        return "the document declares XML entities and is not well-formed XML"
    return None
