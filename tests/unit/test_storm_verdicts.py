"""The storm benchmark's target lines (benchmarks/storm.py): what BENCHMARKS.md says was met."""

from __future__ import annotations

import pytest

from benchmarks.storm import Run, verdicts


def answered(p99s: tuple[float, ...], median: float) -> Run:
    figures = {"ack_p99": 20.0, "final_p99": median, "per_second": 400.0, "lost": 0.0, "late": 0.0, "per_window": 1.0}
    return Run("ours", 0.3, 50, figures, 70.0, ack_p99s=(20.0,) * len(p99s), final_p99s=p99s)


@pytest.mark.parametrize(("p99s", "median", "shown"), [
    ((0.44, 0.452, 0.47), 0.452, "answer p99 452 ms (target ≤ 450 ms; each run: 440, 452, 470) ❌"),
    ((0.43, 0.449, 0.46), 0.449, "answer p99 449 ms (target ≤ 450 ms; each run: 430, 449, 460) ✅"),
])
def test_the_answer_target_is_shown_in_ms_with_each_run(p99s, median, shown):
    [line] = verdicts([answered(p99s, median)])
    assert shown in line  # at two decimals of a second both read 0.45 s, one of them missing 0.45 s
