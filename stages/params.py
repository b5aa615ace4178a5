"""The typed schema of params.yaml: one dataclass per section, validated before any output is touched."""

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from stages.cli import UserError


def _rule(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    choices: tuple[str, ...] = (),
) -> Any:
    """Declare a field's allowed values: an interval (open or closed at each end) or choices."""
    bounds = {"low": low, "high": high, "open_low": open_low, "open_high": open_high}
    return field(metadata={**bounds, "choices": choices})


@dataclass(frozen=True)
class DataParams:
    """Synthetic data: read by the generate stage."""

    seed: int = _rule(0)
    n_samples: int = _rule(20)
    n_features: int = _rule(2)
    noise: float = _rule(0.0, 0.5, open_high=True)


@dataclass(frozen=True)
class SplitParams:
    """Train/validation split: read by the split stage."""

    seed: int = _rule(0)
    val_fraction: float = _rule(0.0, 1.0, open_low=True, open_high=True)


@dataclass(frozen=True)
class ModelParams:
    """MLP architecture: read by train and evaluate."""

    hidden: int = _rule(1)


@dataclass(frozen=True)
class TrainParams:
    """Optimisation: read by the train stage (evaluate reads `loss` only)."""

    loss: str = _rule(choices=("bce", "mse"))
    lr: float = _rule(0.0, open_low=True)
    weight_decay: float = _rule(0.0)
    epochs: int = _rule(1)
    batch_size: int = _rule(1)
    seed: int = _rule(0)


SECTIONS = {"data": DataParams, "split": SplitParams, "model": ModelParams, "train": TrainParams}
Section = TypeVar("Section")


def read_params_file(path: Path) -> dict[str, Any]:
    """Read params.yaml as a mapping, or raise a UserError that says what is wrong with it."""
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; restore it with `git checkout {path}`") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({error.__class__.__name__}): fix the syntax") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a mapping of sections ({', '.join(SECTIONS)})")
    _reject_unknown(document, list(SECTIONS), str(path), "section")
    return document


def load_section(path: Path, name: str, schema: type[Section]) -> Section:
    """Validate section `name` of the params file against `schema` and return it typed."""
    raw = read_params_file(path).get(name)
    where = f"{path}: {name}"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: missing section or not a mapping; expected keys {_names(schema)}")
    return parse_section(raw, schema, where)


def parse_section(raw: dict[str, Any], schema: type[Section], where: str) -> Section:
    """Check keys, types and ranges of one section; every error names key, value and allowed range."""
    _reject_unknown(raw, _names(schema), where, "key")
    values = {}
    for spec in dataclasses.fields(schema):
        if spec.name not in raw:
            raise UserError(f"{where}.{spec.name}: required key is missing")
        values[spec.name] = _check(raw[spec.name], spec, f"{where}.{spec.name}")
    return schema(**values)


def _reject_unknown(raw: dict, known: list[str], where: str, kind: str) -> None:
    """Name the first unknown key and the known one it most resembles (`weigth_decay` → `weight_decay`)."""
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; known: {', '.join(known)}"
            shown = key if isinstance(key, str) and key.isprintable() and len(key) < 60 else _short(key)
            raise UserError(f"{where}.{shown}: unknown {kind}{hint}")


def _names(schema: type) -> list[str]:
    return [spec.name for spec in dataclasses.fields(schema)]


def _check(value: Any, spec: dataclasses.Field, where: str) -> Any:
    rule = spec.metadata
    if rule["choices"]:
        if value not in rule["choices"]:
            raise UserError(f"{where} = {_short(value)}: must be one of {', '.join(rule['choices'])}")
        return value
    number = _as_number(value, spec.type, where)
    if not _inside(number, rule):
        raise UserError(f"{where} = {_short(value)}: must be in {_describe(rule)}")
    return number


def _inside(number: float, rule: dict[str, Any]) -> bool:
    low, high = rule["low"], rule["high"]
    above = low is None or (number > low if rule["open_low"] else number >= low)
    below = high is None or (number < high if rule["open_high"] else number <= high)
    return above and below


def _as_number(value: Any, kind: type, where: str) -> int | float:
    """Read a number the way people and `dvc exp run -S` write it: 1e-3 and '1e-3' alike."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise UserError(f"{where} = {_short(value)}: not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        raise UserError(f"{where} = {_short(value)}: expected a finite {kind.__name__}")
    if kind is int:
        if value != int(value):
            raise UserError(f"{where} = {_short(value)}: expected a whole number")
        return int(value)
    return float(value)


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _short(value: Any) -> str:
    """The value as written, cut short so that the error stays one readable line."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _describe(rule: dict[str, Any]) -> str:
    left = "(" if rule["open_low"] else "["
    right = ")" if rule["open_high"] or rule["high"] is None else "]"
    high = "inf" if rule["high"] is None else rule["high"]
    return f"{left}{rule['low']}, {high}{right}"
