"""Value types of config files (durations, sizes, URLs, lists) and the strict model base.

Every layer's settings (monitors, notifications, the pipeline's defaults) are built from
these, so a duration or a URL reads and fails the same way wherever it is written.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from core.units import check_http_url, format_duration, parse_duration, parse_size

Duration = Annotated[
    timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration, return_type=str)
]

ByteSize = Annotated[int, BeforeValidator(parse_size)]


HttpURL = Annotated[str, AfterValidator(check_http_url)]


class StrictModel(BaseModel):
    """Refuses unknown keys, so a typo fails at load time instead of being ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


SelectorList = Annotated[tuple[str, ...], BeforeValidator(_as_list)]
WordList = Annotated[tuple[str, ...], BeforeValidator(_as_list)]


def _check_patterns(patterns: tuple[str, ...]) -> tuple[str, ...]:
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"bad regular expression {pattern!r}: {exc}") from None
    return patterns


PatternList = Annotated[
    tuple[str, ...], BeforeValidator(_as_list), AfterValidator(_check_patterns)
]
