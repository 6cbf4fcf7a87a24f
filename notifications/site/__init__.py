"""The static archive site: plain HTML and CSS pages written from the store (``build``),
what each page shows (``pages``), and a stored diff drawn word by word (``diffview``).

Templates are in ``templates/``; the paths of the pages are in ``notifications.links``.
"""
