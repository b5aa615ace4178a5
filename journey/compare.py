"""The comparison `journey experiments` prints: finished experiments, the params that differ between
them and the key metrics, as Markdown that fits a 120-column terminal. `--full` prints DVC's own
`dvc exp show` table instead, every param and metric."""

import json
import textwrap

WIDTH = 120
PARAMS = "params.yaml"
METRICS = "eval/metrics.json"  # the evaluate stage's output, as dvc.yaml declares it
SECTIONS = ("model", "train", "data", "split")  # the order differing params are shown in, as room allows
NAMES = {"train.weight_decay": "L2", "data.n_samples": "samples", "data.n_features": "features"}  # the seed's
# (header, key in the metrics document): the ones that read the same whatever the loss.
KEY_METRICS = (("params", "n_params"), ("val acc", "val.accuracy"), ("ROC AUC", "val.roc_auc"),
               ("val loss", "val.loss"), ("fit", "fit.verdict"))  # fmt: skip


def flat(document: dict, prefix: str = "") -> dict[str, object]:
    """`{"a": {"b": 1}}` as `{"a.b": 1}`."""
    out = {}
    for key, value in document.items():
        if isinstance(value, dict):
            out |= flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def cell(value: object) -> str:
    """A value as short as it reads: 0.945, 7,7, none."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ",".join(cell(item) for item in value)
    return str(value)


def differing(params: dict[str, dict]) -> list[str]:
    """The param keys whose values are not all equal: model's first, then train's, data's, split's."""
    keys = list(dict.fromkeys(key for values in params.values() for key in values))
    keys.sort(
        key=lambda key: SECTIONS.index(key.split(".")[0]) if key.split(".")[0] in SECTIONS else len(SECTIONS)
    )
    return [key for key in keys if len({json.dumps(values.get(key)) for values in params.values()}) > 1]


def header(key: str, keys: list[str]) -> str:
    """A param's short name: the seed's table's (L2, samples), else its last name, or the whole key where
    two sections share it (data.seed, split.seed, train.seed)."""
    last = key.rsplit(".", 1)[-1]
    return NAMES.get(key) or (last if sum(other.rsplit(".", 1)[-1] == last for other in keys) == 1 else key)


def markdown(columns: list[tuple[str, list[str]]]) -> list[str]:
    """Columns (header, cells) as Markdown lines, padded so they line up in a terminal."""
    widths = [max(len(title), *(len(text) for text in cells)) for title, cells in columns]
    rows = [[title for title, _ in columns], ["-" * width for width in widths],
            *zip(*(cells for _, cells in columns), strict=True)]  # fmt: skip
    return ["| " + " | ".join(text.ljust(width) for text, width in zip(row, widths, strict=True)) + " |"
            for row in rows]  # fmt: skip


def table(finished: dict[str, dict], width: int = WIDTH) -> str:
    """Each finished experiment (name → its `dvc exp show --json` entry): the params that differ, as many
    as fit `width` columns beside the key metrics (the rest named below), then the key metrics."""
    if not finished:
        return "no finished experiment on this commit"
    params = {name: flat(entry["data"]["params"][PARAMS]["data"]) for name, entry in finished.items()}
    metrics = {name: flat(entry["data"]["metrics"][METRICS]["data"]) for name, entry in finished.items()}
    names = list(finished)
    fixed = [("experiment", names)]
    fixed_end = [(title, [cell(metrics[name].get(key)) for name in names]) for title, key in KEY_METRICS]
    every_key = list(dict.fromkeys(key for values in params.values() for key in values))
    shown, left = [], []
    for key in differing(params):
        column = (header(key, every_key), [cell(params[name].get(key)) for name in names])
        if not left and len(markdown([*fixed, *shown, column, *fixed_end])[0]) <= width:
            shown.append(column)
        else:
            left.append(key)
    lines = markdown([*fixed, *shown, *fixed_end])
    if left:
        note = f"Also differ: {', '.join(left)} (`--full`: every param and metric, DVC's table)."
        lines += ["", *textwrap.wrap(note, width)]
    return "\n".join(lines)
