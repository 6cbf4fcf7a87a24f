"""The line-keeping reading of config.yaml, and errors that name the line.

ruamel's round-trip loader keeps the position of every key and item, so a validation
error from pydantic is mapped back to the line that caused it, and an unknown or missing
key is reported with the keys the model allows there.
"""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import YAMLError
from ruamel.yaml.reader import ReaderError

from core.errors import ConfigError

NEWLINE = "\n"


def read_with_lines(text: str, source: str) -> CommentedMap:
    """The file as ruamel's commented mapping; ConfigError naming the line otherwise."""
    try:
        tree = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise ConfigError(f"{source}{_yaml_line(exc, text)}: invalid YAML: "
                          f"{_yaml_problem(exc)}") from exc
    except RecursionError as exc:  # ruamel's composer recurses once per nesting level
        raise ConfigError(f"{source}: invalid YAML: nested too deeply") from exc
    if not isinstance(tree, CommentedMap):
        raise ConfigError(f"{source}:1: the file must be a mapping with 'organizations'")
    return tree


def _yaml_line(exc: YAMLError, text: str) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        return f":{mark.line + 1}"
    position = getattr(exc, "position", None)  # a reader error: a character index
    if not isinstance(position, int):
        return ""
    return f":{text.count(NEWLINE, 0, position) + 1}"


def _yaml_problem(exc: YAMLError) -> str:
    problem = str(getattr(exc, "problem", None) or "")
    if isinstance(exc, DuplicateKeyError) and problem:
        # ruamel quotes both values whole, which for a list is the whole list.
        return problem.split(" with value ", 1)[0] + " (a key may appear once per mapping)"
    if isinstance(exc, ReaderError) and isinstance(exc.character, int):
        return f"unacceptable character #x{exc.character:04x}: control characters are not allowed"
    problem = problem or str(exc).splitlines()[0]
    if "'\\t'" in problem:
        problem += " (indent with spaces; YAML does not allow tabs there)"
    return problem


class Budget:
    """How many values the file may expand to. YAML aliases can repeat a list inside a
    list (the "billion laughs"): eight lines took 19 s and gigabytes before this limit."""

    LIMIT = 100_000

    def __init__(self, source: str) -> None:
        self.source = source
        self.left = self.LIMIT
        self.seen: set[int] = set()

    def spend(self, line: int) -> None:
        self.left -= 1
        if self.left < 0:
            raise ConfigError(f"{self.source}:{line}: the config expands to more than "
                              f"{self.LIMIT} values here (aliases repeating aliases?)")


def plain(node: Any, budget: Budget, line: int = 1, aliased: bool = False) -> Any:
    """ruamel's commented containers -> plain dicts and lists for pydantic.

    Inside a repeated alias, positions are those of the anchor; the line blamed stays the
    line that used the alias.
    """
    budget.spend(line)
    if isinstance(node, dict):
        return {str(k): _plain_child(node, k, v, budget, line, aliased)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_plain_child(node, i, v, budget, line, aliased) for i, v in enumerate(node)]
    return node


def _plain_child(
    parent: Any, key: Any, value: Any, budget: Budget, line: int, aliased: bool
) -> Any:
    if not aliased:
        if isinstance(value, dict | list):
            aliased = id(value) in budget.seen
            budget.seen.add(id(value))
        if isinstance(parent, CommentedMap):
            line = parent.lc.key(key)[0] + 1
        elif isinstance(parent, CommentedSeq):
            # An alias item's recorded position is its anchor's: blame the list instead.
            line = (parent.lc.line if aliased else parent.lc.item(key)[0]) + 1
    return plain(value, budget, line, aliased)


def line_of(tree: Any, loc: tuple[int | str, ...]) -> int:
    """1-based line of the deepest YAML node that ``loc`` reaches."""
    node, line = tree, 1
    for part in loc:
        if isinstance(node, CommentedMap) and part in node:
            line = node.lc.key(part)[0] + 1
            node = node[part]
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line = node.lc.item(part)[0] + 1
            node = node[part]
        else:
            break
    return line


def _model_at(root: type[BaseModel], loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model class whose fields are valid at ``loc`` (to list allowed keys)."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part)
        if field is None:
            return model
        model = field.annotation
        while get_origin(model) is not None or get_args(model):
            args = [a for a in get_args(model) if a is not type(None) and a is not Ellipsis]
            model = args[0] if args else None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _path_text(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def describe(exc: ValidationError, tree: Any, source: str, root: type[BaseModel]) -> str:
    """pydantic's errors as ``file:line: path: problem`` lines, allowed keys listed."""
    messages = []
    for error in exc.errors():
        loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
        line = line_of(tree, loc)
        if error["type"] == "extra_forbidden":
            parent = _model_at(root, loc[:-1])
            allowed = _allowed_keys(parent)
            text = f"unknown key {loc[-1]!r}; allowed keys: {allowed}"
            where = _path_text(loc[:-1])
        elif error["type"] == "missing":
            parent = _model_at(root, loc[:-1])
            allowed = _allowed_keys(parent)
            text = f"missing required key {loc[-1]!r} (allowed keys: {allowed})"
            where = _path_text(loc[:-1])
        elif _names_a_secret(loc):
            # Whatever was typed there may be the secret itself: never repeat it (errors
            # end up in logs, mail and the database).
            text = ("must be the name of an environment variable (upper-case letters, "
                    "digits and _, not starting with a digit) that holds the secret, not the "
                    "secret itself; the value given is not shown")
            where = _path_text(loc)
        else:
            text = error["msg"].removeprefix("Value error, ")
            value = error.get("input")
            if isinstance(value, str | int | float | bool) and repr(value)[:60] not in text:
                text += f" (got {repr(value)[:60]})"
            where = _path_text(loc)
        messages.append(f"{source}:{line}: {where}: {text}")
    return "\n".join(messages)


def _names_a_secret(loc: tuple[int | str, ...]) -> bool:
    """``*_env`` keys (``password_env``) name the variable a secret is read from."""
    keys = [part for part in loc if isinstance(part, str)]
    return bool(keys) and keys[-1].endswith("_env")


def _allowed_keys(model: type[BaseModel] | None) -> str:
    if model is None:
        return "?"
    return ", ".join(sorted(f.alias or name for name, f in model.model_fields.items()))
