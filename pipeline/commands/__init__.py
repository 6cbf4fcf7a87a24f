"""Subcommands of ``govwatch``. Importing this package registers all of them on ``cli``.

Each module holds one family of commands and decorates them with ``@cli.command``; every
module in this package is imported here, so adding a family is adding a file.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
