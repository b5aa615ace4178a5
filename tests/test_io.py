"""File formats and atomic writes."""

import io

import numpy as np
import pytest

from stages.generate import generate
from stages.lib.cli import UserError
from stages.lib.io import ROWS_PER_BLOCK, read_dataset, write_atomic, write_dataset, write_json, write_table


def test_dataset_round_trips_exactly(tmp_path):
    data = generate(0, 200, 3, 0.05)
    write_dataset(tmp_path / "d.csv", data)
    again = read_dataset(tmp_path / "d.csv")
    assert np.array_equal(again.x, data.x) and np.array_equal(again.y, data.y)
    assert np.array_equal(again.y_clean, data.y_clean)


def test_tables_are_written_byte_for_byte_as_numpy_savetxt_writes_them(tmp_path):
    """The block-wise writer is a faster np.savetxt: the same bytes, past a block edge too."""
    rng = np.random.default_rng(0)
    n = ROWS_PER_BLOCK + 7
    columns = {"a": rng.normal(size=n).astype(np.float32), "b": rng.integers(0, 2, n), "c": rng.random(n)}
    formats = {"a": "%.9g", "b": "%d", "c": "%.6f"}
    write_table(tmp_path / "t.csv", columns, formats)
    reference = io.StringIO()
    table = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns.values()])
    np.savetxt(reference, table, fmt=list(formats.values()), delimiter=",", header="a,b,c", comments="")
    assert (tmp_path / "t.csv").read_text() == reference.getvalue()


def test_json_is_sorted_rounded_and_newline_terminated(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1 / 3, "a": {"z": 2, "y": 0.1234567891}})
    assert (tmp_path / "m.json").read_bytes() == (
        b'{\n  "a": {\n    "y": 0.123457,\n    "z": 2\n  },\n  "b": 0.333333\n}\n'
    )


def test_interrupted_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    write_atomic(target, b"old")

    def ctrl_c(_):
        raise KeyboardInterrupt

    monkeypatch.setattr("stages.lib.io.os.fsync", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, b"new, but interrupted half way")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x0,x1,y,y_clean\n0.1,0.2,1,1\n0.3,0.4\n", "corrupt or truncated"),
        ("x0,x1,y,y_clean\n0.1,0.2,1\n", "expected rows of 4 values"),
        ("a,b,c\n1,2,3\n", "are not x0..xN, y, y_clean"),
        ("x0,x1,y,y_clean\nnan,0.2,1,1\n", "NaN or inf"),
        ("x0,x1,y,y_clean\n0.1,0.2,2,1\n", "must be 0 or 1"),
    ],
)
def test_bad_data_files_are_named_with_the_fix(tmp_path, content, message):
    (tmp_path / "d.csv").write_text(content)
    with pytest.raises(UserError, match=f"d.csv: .*{message}.*dvc repro"):
        read_dataset(tmp_path / "d.csv")


def test_missing_data_file_says_how_to_restore_it(tmp_path):
    with pytest.raises(UserError, match="file not found; run `dvc repro` \\(or `dvc pull`\\)"):
        read_dataset(tmp_path / "nope.csv")
