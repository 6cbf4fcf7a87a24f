"""The config: typed models (``models``), read from YAML with line numbers (``loading``)."""

from pipeline.config.loading import (
    CONFIG_ENV,
    DEFAULT_CONFIG,
    LoadedConfig,
    config_path,
    load_config,
    parse_config,
)
from pipeline.config.models import BrowserSettings, Config, Defaults, Organization, Retention

__all__ = ["CONFIG_ENV", "DEFAULT_CONFIG", "BrowserSettings", "Config", "Defaults",
           "LoadedConfig", "Organization", "Retention", "config_path", "load_config",
           "parse_config"]
