"""Load a YAML file into a pydantic model, with errors that name the file, line and field."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.events import AliasEvent

from execbrief.errors import ConfigError

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_ALIASES = 100
"""Aliases (`*name`) one YAML document may use; a config or front matter needs a handful."""
MAX_NODES = 100_000
"""Nodes a document may hold once every alias is expanded (an alias bomb holds billions)."""


class YamlTooLarge(yaml.YAMLError):
    """A document that would expand beyond the bounds: refused before it is built."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, counting the aliases it composes so an alias bomb stops early."""

    aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise YamlTooLarge(f"more than {MAX_ALIASES} aliases", event.start_mark)
        return super().compose_node(parent, index)


def compose_bounded(text: str) -> yaml.Node | None:
    """The document's node tree, refused (YamlTooLarge) when its aliases would expand it
    beyond MAX_NODES nodes or refer to themselves."""
    loader = _BoundedLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        _check_expansion(node)
    return node


def load_bounded(text: str) -> Any:
    """`yaml.safe_load` with aliases bounded (see `compose_bounded`)."""
    node = compose_bounded(text)
    if node is None:
        return None
    return yaml.SafeLoader("").construct_document(node)


def _check_expansion(root: yaml.Node) -> None:
    """Count the nodes of the expanded document without expanding it: a node shared through
    aliases counts once per reference."""
    sizes: dict[int, int] = {}
    visiting: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in visiting:
            raise YamlTooLarge("an alias refers to the node that contains it", node.start_mark)
        visiting.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        visiting.discard(key)
        if total > MAX_NODES:
            raise YamlTooLarge(f"aliases expand it beyond {MAX_NODES:,} nodes", node.start_mark)
        sizes[key] = total
        return total

    size(root)


def load_yaml_model(path: Path, model: type[ModelT], text: str | None = None) -> ModelT:
    """Parse `path` (or `text`, read from it) and validate it as `model`.

    Raises ConfigError with the file, the 1-based line and the dotted field at fault.
    """
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read file: {exc}", path=path) from exc
    try:
        root = compose_bounded(text)
        raw = yaml.SafeLoader("").construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", path=path, line=line) from exc
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping at the top level", path=path, line=1)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelled key shows up as both an unknown key and a missing one; the
        # unknown key is the line to point at.
        error = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(error["loc"])
        field = ".".join(str(part) for part in loc) or None
        message = _describe(error["type"], error["msg"], loc)
        if error["type"] == "extra_forbidden":
            missing = [
                str(e["loc"][-1])
                for e in errors
                if e["type"] == "missing" and tuple(e["loc"][:-1]) == loc[:-1]
            ]
            if close := difflib.get_close_matches(str(loc[-1]), missing, n=1):
                message += f" (did you mean {close[0]!r}?)"
        if len(errors) > 1:
            message += f" (and {len(errors) - 1} more)"
        raise ConfigError(message, path=path, line=_line_of(root, loc), field=field) from exc


def _describe(error_type: str, message: str, loc: tuple[int | str, ...]) -> str:
    if error_type == "extra_forbidden" and loc:
        return f"unknown key {loc[-1]!r}"
    if error_type == "missing" and loc:
        return f"missing required key {loc[-1]!r}"
    return message


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest node along `loc` that exists in the document."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    # an unknown key is best pointed at by the key itself
                    child = key if part == loc[-1] else value
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            child = node.value[part]
        if child is None:
            return line
        node = child
        line = node.start_mark.line + 1
    return line
