"""What every layer of govwatch shares: the error tree, the records that move between
stages, canonical JSON, units and config value types, and the rule of kind registries.

It imports nothing of govwatch's other packages (tests/unit/test_imports.py).
"""
