"""After the digest: bring the archive site up to date, when the config has a ``site``.

``govwatch run`` calls ``site_stage`` after its digest stage, and the daemon after each of
its digest polls; ``govwatch site`` builds it on demand. The site's code is imported only
when one is configured (docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import GovwatchError, LockHeld

if TYPE_CHECKING:
    from notifications.site.build import SiteReport
    from pipeline.config import Config
    from storage.db import Store

log = logging.getLogger(__name__)


def write_site(config: Config | None, store: Store, directory: str | Path | None = None, *,
               full: bool = False) -> SiteReport:
    """Build the site into ``directory`` (default: the config's ``site.directory``); with
    no config or no ``site`` section, with the default settings."""
    from notifications.config import SiteSettings
    from notifications.site.build import build_site

    settings = config.site if config is not None and config.site is not None else None
    return build_site(store, settings or SiteSettings(), directory, full=full)


def site_stage(config: Config, store: Store) -> SiteReport | None:
    """The site after a run; ``None`` when none is configured or another writer has it.
    A failure is logged, never raised: the run's checks are already recorded."""
    if config.site is None or not config.site.enabled:
        return None
    try:
        return write_site(config, store)
    except LockHeld as exc:
        log.warning("site skipped: %s", exc)
    except GovwatchError as exc:
        log.error("site not written: %s", exc)
    return None
