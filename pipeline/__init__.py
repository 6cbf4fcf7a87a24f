"""Config loading, the fetch layer, the cycle's stage order and the CLI."""

VERSION = "0.2.0"
