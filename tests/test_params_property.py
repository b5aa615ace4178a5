"""Property: any params mapping validates or is rejected with one clear line, never a traceback."""

from hypothesis import given, settings
from hypothesis import strategies as st

from stages.lib.cli import UserError
from stages.params import SECTIONS, parse_section

KNOWN_KEYS = sorted({key for schema in SECTIONS.values() for key in schema.__dataclass_fields__})
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(["bce", "mse", "1e-3", "0.5", "inf", "nan", "-0", "1_000", "0x10", " 7 "])
)
values = scalars | st.lists(scalars, max_size=3) | st.dictionaries(st.text(max_size=5), scalars, max_size=2)
keys = st.sampled_from(KNOWN_KEYS) | st.text(max_size=12)


@settings(max_examples=300, deadline=None)
@given(section=st.sampled_from(sorted(SECTIONS)), raw=st.dictionaries(keys, values, max_size=8))
def test_any_mapping_validates_or_is_rejected_cleanly(section, raw):
    try:
        parsed = parse_section(raw, SECTIONS[section], section)
    except UserError as error:
        message = str(error)
        assert message.startswith(section) and "\n" not in message and len(message) < 300
    else:
        assert isinstance(parsed, SECTIONS[section])
