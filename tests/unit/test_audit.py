"""The audit log: whole JSON lines, whatever the number of threads writing at once."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from bot.audit import AuditLog


def test_threads_writing_at_once_leave_whole_lines_and_lose_none(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"before":true}\n')  # an existing log is appended to
    audit = AuditLog(str(path))

    def write(n: int) -> None:
        for i in range(200):
            audit.record(entry="command", user=f"U{n:04d}", channel="C1", outcome="card",
                         execution_id=f"{n}-{i}", upstream_ms=1.25, cache_hit=True)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(8)))
    audit.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"before": True} and len(lines) == 1 + 8 * 200
    assert {line["execution_id"] for line in lines[1:]} == {f"{n}-{i}" for n in range(8) for i in range(200)}
    audit.record(entry="command", user=None, channel=None, outcome="card")  # after close: dropped, no error
    assert len(path.read_text().splitlines()) == 1 + 8 * 200


def test_standard_output_without_a_descriptor_is_written_too(capsys):
    audit = AuditLog("-")  # pytest's capture has no file descriptor
    audit.record(entry="unfurl", user="U1", channel="C1", outcome="timeout", execution_id="e")
    assert json.loads(capsys.readouterr().out)["outcome"] == "timeout"

