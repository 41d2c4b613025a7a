"""The fast (Rust-side) row validation accepts exactly what the core event model accepts."""

from __future__ import annotations

import math

from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from fustor_core.event_model import Row, path_problem
from fustor_fusion.validation import _WireRow

segments = st.one_of(
    st.sampled_from(["", ".", "..", "...", ".a", "..a", "a.", "a", "é", " ", "\n", "\x00", "a\x00b"]),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=6),
)
paths = st.one_of(
    st.lists(segments, max_size=5).map(lambda parts: "/" + "/".join(parts)),
    st.lists(segments, max_size=5).map("/".join),
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20),
)


def accepts(model: type[Row], **fields: object) -> bool:
    try:
        model.model_validate(fields)
    except ValidationError:
        return False
    return True


@settings(max_examples=1500, deadline=None)
@given(paths)
@example("/")
@example("//")
@example("/a/")
@example("/" + "x" * 4095)
@example("/" + "x" * 4096)
def test_wire_paths_agree_with_path_problem(path: str) -> None:
    expected = path_problem(path) is None and len(path) <= 4096
    assert accepts(_WireRow, path=path) is expected
    assert accepts(Row, path=path) is expected
    assert accepts(_WireRow, path="/ok", parent_path=path) is expected


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_wire_mtimes_agree_with_the_core(value: float) -> None:
    assert accepts(_WireRow, path="/f", mtime=value) is math.isfinite(value)
    assert accepts(_WireRow, path="/f", parent_mtime=value) is math.isfinite(value)
    assert accepts(Row, path="/f", mtime=value) is math.isfinite(value)
