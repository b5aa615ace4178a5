"""The typed schema of params.yaml, one dataclass per section; and the `params` stage, which checks it all.

`dvc.yaml` runs the `params` stage first, on any change to params.yaml: a bad value or an unknown key
stops `dvc repro` before DVC removes the outputs of the stages that would read it. Its output never
changes while the params are valid, so a valid change reruns only the stages that read that param.
"""

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from stages.lib.cli import UserError, parse_paths, run
from stages.lib.io import write_atomic
from stages.lib.names import ACTIVATIONS, ARITHMETICS, FRAMEWORKS, LOSSES


def rule(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
    choices: tuple[str, ...] = (),
    nullable: bool = False,
) -> Any:
    """Declare a field's allowed values: an interval (open or closed at each end) or choices."""
    bounds = {"low": low, "high": high, "open_low": open_low, "open_high": open_high}
    return field(metadata={**bounds, "choices": choices, "nullable": nullable})


REAL_SOURCES = ("breast_cancer",)  # shipped inside scikit-learn: no download


@dataclass(frozen=True)
class DataParams:
    """Where the rows come from (generate), and whether train standardises the features."""

    source: str = rule(choices=("synthetic", *REAL_SOURCES))
    seed: int | None = rule(0, nullable=True)
    n_samples: int | None = rule(20, nullable=True)
    n_features: int | None = rule(2, nullable=True)
    noise: float | None = rule(0.0, 0.5, open_high=True, nullable=True)
    standardize: bool = rule()

    SYNTHETIC_ONLY = ("seed", "n_samples", "n_features", "noise")

    def check(self, where: str) -> None:
        """Synthetic data needs its four params; a real dataset brings its own rows and features."""
        for key in self.SYNTHETIC_ONLY:
            value = getattr(self, key)
            if self.source == "synthetic" and value is None:
                raise UserError(f"{where}.{key}: required for synthetic data")
            if self.source != "synthetic" and value is not None:
                raise UserError(f"{where}.{key} = {value}: only for synthetic data; {self.source} brings "
                                "its own rows and features, so set it to null")  # fmt: skip


@dataclass(frozen=True)
class SplitParams:
    """Train/validation split: read by the split stage."""

    seed: int = rule(0)
    val_fraction: float = rule(0.0, 1.0, open_low=True, open_high=True)


@dataclass(frozen=True)
class ModelParams:
    """MLP architecture: read by train and evaluate."""

    hidden: tuple[int, ...] = rule(1)  # widths; a single number means one hidden layer
    activation: str = rule(choices=ACTIVATIONS)
    dropout: float = rule(0.0, 1.0, open_high=True)


@dataclass(frozen=True)
class TrainParams:
    """Optimisation: read by the train stage (evaluate reads `loss` only)."""

    loss: str = rule(choices=LOSSES)
    lr: float = rule(0.0, open_low=True)
    weight_decay: float = rule(0.0)
    epochs: int = rule(1)
    batch_size: int = rule(1)
    seed: int = rule(0)
    device: str = rule(choices=("cpu", "cuda", "auto"))
    framework: str = rule(choices=FRAMEWORKS)
    arithmetic: str = rule(choices=ARITHMETICS)


SECTIONS = {"data": DataParams, "split": SplitParams, "model": ModelParams, "train": TrainParams}
Section = TypeVar("Section")


@dataclass(frozen=True)
class Params:
    """A whole params.yaml, typed: what a stage, an experiment or a study run is configured by."""

    data: DataParams
    split: SplitParams
    model: ModelParams
    train: TrainParams

    def plain(self) -> dict[str, dict[str, Any]]:
        """As params.yaml writes it (and `dvc exp show` reads it): one hidden layer as a number."""
        document = dataclasses.asdict(self)
        hidden = document["model"]["hidden"]
        document["model"]["hidden"] = hidden[0] if len(hidden) == 1 else list(hidden)
        return document


def read_params_file(path: Path, known: tuple[str, ...] = tuple(SECTIONS)) -> dict[str, Any]:
    """Read a params file as a mapping of the `known` sections, or raise a UserError that says what
    is wrong with it."""
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: file not found; restore it with `git checkout {path}`") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({error.__class__.__name__}): fix the syntax") from None
    if not isinstance(document, dict):
        raise UserError(f"{path}: expected a mapping of sections ({', '.join(known)})")
    _reject_unknown(document, list(known), f"{path}: ", "section")
    return document


def load_params(path: Path) -> Params:
    """Every section of the params file, validated and typed; unknown sections and keys are errors."""
    document = read_params_file(path)
    return Params(**{name: section_of(document, path, name, schema) for name, schema in SECTIONS.items()})


def parse_params(document: dict[str, dict[str, Any]], where: str) -> Params:
    """A mapping of the four sections (one experiment of experiments.yaml, say), validated and typed."""
    return Params(**{name: parse_section(document[name], schema, f"{where}.{name}")
                     for name, schema in SECTIONS.items()})  # fmt: skip


def load_section(path: Path, name: str, schema: type[Section]) -> Section:
    """Validate section `name` of the params file against `schema` and return it typed."""
    return section_of(read_params_file(path), path, name, schema)


def section_of(document: dict[str, Any], path: Path, name: str, schema: type[Section]) -> Section:
    """Section `name` of a read params file, checked against `schema`."""
    raw = document.get(name)
    where = f"{path}: {name}"
    if not isinstance(raw, dict):
        raise UserError(f"{where}: missing section or not a mapping; expected keys {_names(schema)}")
    return parse_section(raw, schema, where)


def parse_section(raw: dict[str, Any], schema: type[Section], where: str) -> Section:
    """Check keys, types and ranges of one section; every error names key, value and allowed range."""
    _reject_unknown(raw, _names(schema), f"{where}.", "key")
    values = {}
    for spec in dataclasses.fields(schema):
        if spec.name not in raw:
            raise UserError(f"{where}.{spec.name}: required key is missing")
        values[spec.name] = _check(raw[spec.name], spec, f"{where}.{spec.name}")
    section = schema(**values)
    if hasattr(section, "check"):
        section.check(where)
    return section


def _reject_unknown(raw: dict, known: list[str], where: str, kind: str) -> None:
    """Name the first unknown key, after `where`, and the known one it most resembles (`weigth_decay`)."""
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else f"; known: {', '.join(known)}"
            shown = key if isinstance(key, str) and key.isprintable() and len(key) < 60 else _short(key)
            raise UserError(f"{where}{shown}: unknown {kind}{hint}")


def _names(schema: type) -> list[str]:
    return [spec.name for spec in dataclasses.fields(schema)]


def _check(value: Any, spec: dataclasses.Field, where: str) -> Any:
    rule, kind = spec.metadata, _kind(spec.type)
    if value is None and rule["nullable"]:
        return None
    if kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"{where} = {_short(value)}: expected true or false")
        return value
    if kind == tuple[int, ...]:
        return _as_widths(value, rule, where)
    if kind == list[int]:  # a list that may be empty, such as the study's later batches
        if not isinstance(value, list):
            raise UserError(f"{where} = {_short(value)}: expected a list of whole numbers, such as [1, 2]")
        return [_number(item, int, rule, where) for item in value]
    if rule["choices"]:
        if value not in rule["choices"]:
            raise UserError(f"{where} = {_short(value)}: must be one of {', '.join(rule['choices'])}")
        return value
    return _number(value, kind, rule, where)


def _kind(annotation: Any) -> Any:
    """The type a value must have: `int` for `int | None`."""
    if isinstance(annotation, types.UnionType):
        return next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return annotation


def _number(value: Any, kind: type, rule: dict[str, Any], where: str) -> int | float:
    number = _as_number(value, kind, where)
    if not _inside(number, rule):
        raise UserError(f"{where} = {_short(value)}: must be in {_describe(rule)}")
    return number


def _as_widths(value: Any, rule: dict[str, Any], where: str) -> tuple[int, ...]:
    """Layer widths: one number, or a non-empty list of numbers, each checked like an int field."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise UserError(f"{where} = []: give at least one hidden layer width")
    return tuple(_number(item, int, rule, where) for item in items)


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


# The same bytes for every valid params file, so that stages downstream see no change.
VALID = b"params.yaml passed the schema in stages/params.py\n"


def main() -> None:
    """Check every section of --params against the schema; write --out, the same bytes whenever valid."""
    args = parse_paths(__doc__.splitlines()[0], "out")
    load_params(args.params)
    write_atomic(args.out, VALID)


if __name__ == "__main__":
    run(main, dvc_removed_outputs=False)
