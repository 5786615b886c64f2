"""The pipeline's command-line flags, shared by every runner (local and Kubeflow).

Every stage setting of `PipelineConfig` has a flag derived from its field:
`--<stage>.<field-with-dashes>` (a nested class adds its own field name:
`--evaluation.gate.max-fid-ratio`), typed, explained and (where it has one) given its
short alias (`--max-fid-ratio`) by the field itself (see `modules.settings`), so a new
setting is one new field. `--trainer-option NAME=VALUE` is one more spelling of
`--training.NAME`. Each runner adds its own path and runner flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from typing import Any

from modules.settings import ALIAS, CHOICES, HELP, SEPARATOR, SET_FROM
from modules.training.config import TrainerConfig
from pipeline import configs

TRAINER_OPTION = "--trainer-option"
TRAINING_STAGE = "training"
GIVEN = "given_settings"  # the namespace's record of the settings flags, in command-line order


class FlagError(ValueError):
    """A command-line mistake whose message already names the flags as typed."""


@dataclasses.dataclass(frozen=True)
class Setting:
    """One stage setting as the command line sees it."""

    path: str                 # "evaluation.gate.max_fid_ratio"
    field: dataclasses.Field
    kind: Any                 # the field's type

    @property
    def flag(self) -> str:
        return "--" + self.path.replace("_", "-")

    @property
    def spellings(self) -> tuple[str, ...]:
        alias = self.field.metadata.get(ALIAS)
        return (self.flag, alias) if alias else (self.flag,)

    @property
    def repeatable(self) -> bool:
        return typing.get_origin(self.kind) is tuple

    def convert(self, text: str):
        """The value one flag's text gives; the field's own checks come later."""
        name = self.field.name
        if self.repeatable:
            separator = self.field.metadata.get(SEPARATOR)
            return tuple(part for part in (text.split(separator) if separator else [text])
                         if part)
        kinds = [kind for kind in typing.get_args(self.kind) or [self.kind]
                 if kind is not type(None)]
        if len(kinds) < len(typing.get_args(self.kind)) and text.lower() in ("", "none"):
            return None
        kind = kinds[0]
        if kind is bool:
            if text.lower() not in ("1", "true", "yes", "0", "false", "no"):
                raise ValueError(f"{name} takes true or false, got {text!r}")
            return text.lower() in ("1", "true", "yes")
        if kind in (int, float):
            try:
                return kind(text)
            except ValueError:
                raise ValueError(f"{name} takes a number ({kind.__name__}), got {text!r}") \
                    from None
        return text

    def show(self, value) -> str:
        """A value as it would be typed."""
        if value is None:
            return "none"
        text = ",".join(value) if self.repeatable else str(value)
        return text or "''"


def _settings_of(cls, prefix: str) -> list[Setting]:
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        path, kind = f"{prefix}.{field.name}", hints[field.name]
        if dataclasses.is_dataclass(kind):
            found += _settings_of(kind, path)
        elif SET_FROM not in field.metadata:
            found.append(Setting(path, field, kind))
    return found


STAGES = tuple(field.name for field in dataclasses.fields(configs.PipelineConfig)
               if dataclasses.is_dataclass(field.default))
SETTINGS = tuple(setting for stage in STAGES for setting in _settings_of(
    typing.get_type_hints(configs.PipelineConfig)[stage], stage))
BY_PATH = {setting.path: setting for setting in SETTINGS}
BY_SPELLING = {spelling: setting for setting in SETTINGS for spelling in setting.spellings}


def value_at(settings, path: str):
    """The setting at a dotted `path` of `settings`, e.g. "evaluation.gate.max_fid_ratio"."""
    for name in path.split("."):
        settings = getattr(settings, name)
    return settings


class _Record(argparse.Action):
    """Records the flag as typed; `stage_settings` reads the record."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, GIVEN, (*getattr(namespace, GIVEN), (option_string, values)))


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
    """Adds a flag for every stage setting of `PipelineConfig`, and the Beam and cache flags."""
    defaults = configs.PipelineConfig()
    groups = {stage: parser.add_argument_group(f"{stage} settings") for stage in STAGES}
    for setting in SETTINGS:
        metadata, default = setting.field.metadata, value_at(defaults, setting.path)
        help_text = metadata.get(HELP, "")
        help_text += f"{'; ' if help_text else ''}default: {setting.show(default)}"
        if setting.repeatable:
            help_text += " (repeatable)"
        boolean = setting.kind is bool
        groups[setting.path.partition(".")[0]].add_argument(
            *setting.spellings, action=_Record, dest=GIVEN, default=(),
            nargs="?" if boolean else None, const="true" if boolean else None,
            metavar=("{" + ",".join(map(str, metadata[CHOICES])) + "}"
                     if metadata.get(CHOICES) else setting.field.name.upper()),
            help=help_text.replace("%", "%%"))
    groups[TRAINING_STAGE].add_argument(
        TRAINER_OPTION, action=_Record, dest=GIVEN, default=(), metavar="NAME=VALUE",
        help="another spelling of --training.NAME VALUE (repeatable), e.g. "
             "--trainer-option loss=hinge --trainer-option diff_augment=translation,cutout")
    parser.add_argument("--no-cache", action="store_true", help="rerun every component")
    parser.add_argument("--beam-arg", action="append", default=None,
                        help="a Beam pipeline argument (repeatable); default: "
                             + " ".join(defaults.beam_pipeline_args))


@dataclasses.dataclass(frozen=True)
class _Given:
    """One setting as the command line set it."""

    spelling: str     # the flag used, e.g. "--batch-size" or "--trainer-option"
    typed: str        # as typed: "--batch-size 32", "--trainer-option batch_size=32"
    setting: Setting
    value: Any


def _given(args: argparse.Namespace) -> list[_Given]:
    """Every settings flag of the command line, converted, in order."""
    given = []
    for spelling, text in getattr(args, GIVEN, ()):
        typed = f"{spelling} {text}"
        if spelling == TRAINER_OPTION:
            name, _, text = text.partition("=")
            setting = BY_PATH.get(f"{TRAINING_STAGE}.{name}")
            if setting is None:
                raise FlagError(f"{typed}: {_not_a_trainer_option(name)}")
        else:
            setting = BY_SPELLING[spelling]
        try:
            given.append(_Given(spelling, typed, setting, setting.convert(text)))
        except ValueError as error:
            raise FlagError(f"{typed}: {error}") from None
    return given


def _not_a_trainer_option(name: str) -> str:
    fields = {field.name: field for field in dataclasses.fields(TrainerConfig)}
    if name in fields:
        return (f"{name} is not a Trainer option: every stage takes it from "
                f"{fields[name].metadata[SET_FROM]}")
    options = sorted(setting.field.name for setting in SETTINGS
                     if setting.path.startswith(TRAINING_STAGE + "."))
    return f"unknown Trainer setting {name!r}; choose from {options}"


def _values(given: list[_Given]) -> dict[str, Any]:
    """The value of each setting the command line set. A repeated flag's last value counts
    (repeatable settings collect them all); two spellings disagreeing is refused."""
    values, last = {}, {}
    for entry in given:
        path = entry.setting.path
        if entry.setting.repeatable:
            values[path] = values.get(path, ()) + entry.value
        else:
            last[path, entry.spelling] = entry
    first = {}
    for entry in last.values():
        kept = first.setdefault(entry.setting.path, entry)
        if entry.value != kept.value:
            raise FlagError(f"{kept.typed} and {entry.typed} set the same setting "
                            f"({entry.setting.flag}) to different values; give it once")
        values[entry.setting.path] = entry.value
    return values


def _with_values(settings, prefix: str, values: dict[str, Any]):
    changes = {}
    for field in dataclasses.fields(settings):
        path, current = f"{prefix}.{field.name}", getattr(settings, field.name)
        if dataclasses.is_dataclass(current):
            changes[field.name] = _with_values(current, path, values)
        elif path in values:
            changes[field.name] = values[path]
    return dataclasses.replace(settings, **changes)


def stage_settings(args: argparse.Namespace) -> dict[str, Any]:
    """Each stage's settings class, built from the parsed flags and validated; raises
    ValueError (see `name_the_flag`)."""
    defaults, values = configs.PipelineConfig(), _values(_given(args))
    return {stage: _with_values(getattr(defaults, stage), stage, values) for stage in STAGES}


def pipeline_config(args: argparse.Namespace, *, data_dir: str, output_dir: str,
                    serving_dir: str) -> configs.PipelineConfig:
    """The `PipelineConfig` of parsed flags, with the paths the runner resolved."""
    return configs.PipelineConfig(
        data_dir=data_dir, output_dir=output_dir, serving_dir=serving_dir,
        **stage_settings(args),
        beam_pipeline_args=tuple(args.beam_arg or configs.PipelineConfig.beam_pipeline_args),
        enable_cache=not args.no_cache)


def name_the_flag(error: ValueError, args: argparse.Namespace) -> str:
    """A settings error as the user typed it: `--flag value: message`.

    The flag is the one of the setting the message names (by its field name, or its
    path with spaces: "image size"; the longest such name, then the first), as the user
    spelled it (or its short alias, when it was not given).
    """
    message = str(error)
    if isinstance(error, FlagError):
        return message
    names = {name: setting for setting in SETTINGS
             for name in (setting.field.name, setting.path, setting.path.replace(".", " "))}
    found = [(len(name), -match.start(), names[name]) for name in names
             for match in [re.search(rf"\b{re.escape(name)}\b", message)] if match]
    if not found:
        return message
    *_, setting = max(found, key=lambda named: named[:2])
    given = [entry for entry in _given(args) if entry.setting == setting]
    if given and given[-1].spelling == TRAINER_OPTION:
        return f"{given[-1].typed}: {message}"
    value = _values(given).get(setting.path,
                               value_at(configs.PipelineConfig(), setting.path))
    spelling = given[-1].spelling if given else setting.spellings[-1]
    return f"{spelling} {setting.show(value)}: {message}"
