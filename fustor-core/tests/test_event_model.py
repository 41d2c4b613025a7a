"""The event model refuses bad paths row by row and accepts what agents legitimately send."""

import pytest
from pydantic import ValidationError

from fustor_core.event_model import Event, EventBatch, MessageSource, Row, path_problem


@pytest.mark.parametrize("path", ["/", "/a", "/a/b.txt", "/ünïcode/名前", "/with space/x"])
def test_valid_datastore_paths_are_accepted(path: str) -> None:
    assert path_problem(path) is None
    assert Row(path=path).path == path


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("a/b", "start with '/'"),
        ("/a/../b", "'..'"),
        ("/a/./b", "'.'"),
        ("/a//b", "empty"),
        ("/a/", "end with '/'"),
        ("/a\x00b", "NUL"),
        ("/bad\udcffname", "UTF-8"),
    ],
)
def test_invalid_paths_are_refused_with_the_reason(path: str, why: str) -> None:
    problem = path_problem(path)
    assert problem is not None and why in problem
    with pytest.raises(ValidationError) as info:
        Row(path=path)
    assert info.value.errors()[0]["loc"] == ("path",)


def test_negative_size_and_non_finite_mtime_are_refused() -> None:
    with pytest.raises(ValidationError):
        Row(path="/a", size=-1)
    with pytest.raises(ValidationError):
        Row(path="/a", mtime=float("nan"))


def test_unknown_row_fields_are_refused_so_typos_do_not_pass_silently() -> None:
    with pytest.raises(ValidationError):
        Row.model_validate({"path": "/a", "mtim": 1.0})


def test_event_batch_round_trips_through_json() -> None:
    batch = EventBatch(
        seq=3,
        events=[
            Event(
                message_source=MessageSource.AUDIT,
                event_type="update",
                index=1_700_000_000_000,
                rows=[Row(path="/d", is_dir=True, mtime=1.5, audit_skipped=True)],
            )
        ],
    )
    again = EventBatch.model_validate_json(batch.model_dump_json())
    assert again == batch
    assert again.events[0].message_source is MessageSource.AUDIT
    assert again.events[0].rows[0].audit_skipped is True
