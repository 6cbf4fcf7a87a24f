"""The command line: ``group`` (options, exit codes), a module per family of commands, ``main``."""
