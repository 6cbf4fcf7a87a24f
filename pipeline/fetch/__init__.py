"""The fetch layer: the HTTP client and its limits (``client``), per-host politeness
(``politeness``), robots.txt (``robots``), content decoding (``decoding``), large bodies
(``bodies``) and the capture of new documents (``capture``). It is the only code that
talks HTTP.
"""
