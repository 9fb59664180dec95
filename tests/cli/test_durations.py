"""Run durations read the same in the command line and on the dashboard."""

from __future__ import annotations

import pytest

from mltrail.cli.output import format_duration as cli_duration
from mltrail.server.ui.formatting import format_duration as page_duration


@pytest.mark.parametrize(
    ("elapsed_ms", "shown"),
    [
        (29, "29ms"),
        (1_200, "1.2s"),
        (185_000, "3m 05s"),
        (7_260_000, "2h 01m"),
        (3 * 86_400_000 + 4 * 3_600_000, "3d 4h"),
    ],
)
def test_both_say_the_same(elapsed_ms: int, shown: str) -> None:
    start = 1_700_000_000_000
    assert cli_duration(start, start + elapsed_ms) == shown
    assert page_duration(start, start + elapsed_ms) == shown


def test_a_run_without_an_end_has_no_duration() -> None:
    assert cli_duration(1_700_000_000_000, None) == "-"
    assert page_duration(1_700_000_000_000, None) == ""
