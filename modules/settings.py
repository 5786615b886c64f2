"""What every stage's settings class shares: its fields' flag metadata, and one JSON form.

Each stage (image, ingest, validation, training, evaluation, push) has one frozen
dataclass holding its settings, defaults and checks. Its fields carry what the
command line needs (`pipeline.flags` derives a flag from each), and `Settings` gives
it the JSON form its component's parameter carries (the Trainer's `custom_config` is a
dict instead: `TrainerConfig.to_custom_config`), so no setting is re-packed by hand on
its way from the flag to the code that uses it. Free of TensorFlow.
"""
from __future__ import annotations

import dataclasses
import json
import typing

HELP = "help"
ALIAS = "alias"            # today's short flag, e.g. "--image-size"
CHOICES = "choices"
SEPARATOR = "separator"    # tuple settings: one flag value holds several, split on this
SET_FROM = "set_from"      # not a flag: the pipeline sets it from this other setting


def setting(default, help: str = "", alias: str = "", choices: tuple = (),
            separator: str = "") -> dataclasses.Field:
    """A field that becomes a flag (see `pipeline.flags`)."""
    metadata = {HELP: help, ALIAS: alias, CHOICES: choices, SEPARATOR: separator}
    return dataclasses.field(default=default, metadata=metadata)


def set_from(default, source: str) -> dataclasses.Field:
    """A field the pipeline fills in from `source` (a flag), so it has no flag of its own:
    a second way to set it could only disagree with the first."""
    return dataclasses.field(default=default, metadata={SET_FROM: source})


def named(cls, name: str) -> str:
    """`name (--flag)`, as error messages spell a setting of `cls` that has a short flag."""
    alias = {field.name: field for field in dataclasses.fields(cls)}[name].metadata[ALIAS]
    return f"{name} ({alias})"


class Settings:
    """The JSON form of a settings dataclass: what its component's parameter carries."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str):
        return _decode(cls, json.loads(text))


def _decode(cls, values: dict):
    """`values` (decoded JSON) as `cls`, rebuilding nested dataclasses and tuples."""
    hints = typing.get_type_hints(cls)
    fields = {}
    for field in dataclasses.fields(cls):
        kind, value = hints[field.name], values[field.name]
        if dataclasses.is_dataclass(kind):
            value = _decode(kind, value)
        elif typing.get_origin(kind) is tuple:
            value = tuple(value)
        fields[field.name] = value
    return cls(**fields)
