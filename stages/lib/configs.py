"""experiments.yaml: the named configurations (defaults plus each one's changes) and the lessons."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from stages.lib.cli import UserError
from stages.params import SECTIONS, Params, parse_params

NOTEBOOKS = ("experiments",)
ALL = ("experiments", "next_experiments")  # `--all`: the README's results table
EVERY_NAMED = (*ALL, "study_configs")  # any of these may be run by name


def load_experiments(path: Path, groups: tuple[str, ...] = NOTEBOOKS) -> dict[str, Params]:
    """Full params of each experiment in these groups of experiments.yaml: `defaults` updated
    section by section with the experiment's changes, then validated and typed (`lr: "1e-3"` is the
    number 0.001, as the stages read it)."""
    try:
        document = yaml.safe_load(path.read_text())
        defaults, experiments = document["defaults"], dict(document["experiments"])
        for group in groups:
            experiments |= document.get(group) or {}
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (yaml.YAMLError, TypeError, KeyError) as error:
        raise UserError(f"{path}: expected mappings `defaults` and `experiments` ({error})") from None
    return {name: _resolve(path, name, defaults, changes or {}) for name, changes in experiments.items()}


def check_names(names: list[str], path: Path) -> None:
    """A UserError for names experiments.yaml does not define, listing those the `journey` commands run:
    the notebooks by default, the others with --all (the study's own configs, though runnable by name,
    are not offered)."""
    if unknown := [name for name in names if name not in load_experiments(path, EVERY_NAMED)]:
        notebooks = list(load_experiments(path, NOTEBOOKS))
        others = [name for name in load_experiments(path, ALL) if name not in notebooks]
        raise UserError(f"unknown experiment {', '.join(unknown)}; {path} names {', '.join(notebooks)} (the "
                        f"notebooks, the default) and, with --all, also {', '.join(others)}")  # fmt: skip


def _resolve(path: Path, name: str, defaults: dict, changes: dict) -> Params:
    unknown = set(changes) - set(SECTIONS)
    if unknown:
        raise UserError(f"{path}: {name}: unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS)}")
    config = {section: {**defaults.get(section, {}), **changes.get(section, {})} for section in SECTIONS}
    return parse_params(config, f"{path}: {name}")


DIRECTIONAL, EQUIVALENCE = "directional", "equivalence"  # a lesson's kinds: `better`/`than`, `same`


@dataclass(frozen=True)
class Lesson:
    """One of the seed's lessons: config `first` beats config `second` (directional), or the two give the
    same accuracy within ±margin (equivalence). Either way, a difference within ±margin is no practical
    difference."""

    claim: str
    first: str
    second: str
    margin: float  # in accuracy: the lesson's own, or experiments.yaml's `lesson_margin`
    kind: str = DIRECTIONAL  # or EQUIVALENCE
    base: str | None = None  # a config both sides change one thing of; their gains over it are shown

    def configs(self) -> list[str]:
        """The configs the lesson compares, base first."""
        return [name for name in (self.base, self.second, self.first) if name]


LESSON_KEYS = ("each needs claim and either better and than (and may have base) or same: [a, b]; margin, "
               "a positive number, is the lesson's own or the file's lesson_margin")  # fmt: skip


def _lesson(entry: dict, default_margin: float | None) -> Lesson:
    """A lesson of experiments.yaml: `better`/`than` claims a win; `same` an equivalence."""
    entry = dict(entry)
    margin = entry.pop("margin", default_margin)
    if not (isinstance(margin, int | float) and not isinstance(margin, bool) and margin > 0):
        raise TypeError(f"margin {margin!r} must be a positive number")
    if "same" in entry:
        first, second = entry.pop("same")
        return Lesson(first=first, second=second, margin=float(margin), kind=EQUIVALENCE, **entry)
    return Lesson(first=entry.pop("better"), second=entry.pop("than"), margin=float(margin), **entry)


def load_lessons(path: Path) -> list[Lesson]:
    """The `lessons` of experiments.yaml, each naming configs that experiments.yaml defines."""
    known = load_experiments(path, EVERY_NAMED)
    try:
        document = yaml.safe_load(path.read_text())
        lessons = [_lesson(entry, document.get("lesson_margin")) for entry in document.get("lessons") or []]
    except (TypeError, KeyError, ValueError) as error:
        raise UserError(f"{path}: lessons: {LESSON_KEYS} ({error})") from None
    for lesson in lessons:
        if missing := [name for name in lesson.configs() if name not in known]:
            raise UserError(f"{path}: lesson {lesson.claim!r} names unknown configs {missing}")
    return lessons
