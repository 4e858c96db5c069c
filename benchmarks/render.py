"""What rendering costs: time per card and payload size, from the documented sample to a
hostile 500-step execution: the first render of a card (nothing masked yet) and a render again (another
view or refresh of the same run: its texts masked already, bot/redact.py keeps them).
Usage: .venv/bin/python -m benchmarks.render"""

from __future__ import annotations

import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.qflow.models import parse_execution
from bot.redact import Redactor
from bot.render import CardState, render_execution_card
from bot.render.message import block_text_chars

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def huge_execution():
    text = "<!channel> & " + "y" * 5000
    steps = [{"eventOrder": i, "nodeId": f"node-{i}", "nodeType": "awsapi", "name": "N" * 300,
              "status": "Failed" if i % 3 == 0 else "Success", "createdAt": 1746007562041 + i * 1000,
              "updatedAt": 1746007562041 + i * 1000 + 500, "error": text} for i in range(1, 501)]
    return {"data": {"id": "0e71f117-648f-4ad2-a3a9-8f1b857a1b70", "status": "Failed", "error": text,
                     "variables": [f"k{i}={text}" for i in range(300)], "tags": [text] * 300, "steps": steps}}


def many_steps(count: int):
    """A long-running execution: `count` steps, every tenth failed with a short error."""
    steps = [{"eventOrder": i, "nodeId": f"node-{i}", "nodeType": "awsapi", "name": f"Step {i}",
              "status": "Failed" if i % 10 == 0 else "Success", "createdAt": 1746007562041 + i * 1000,
              "updatedAt": 1746007562041 + i * 1000 + 500, "error": f"password=hunter{i} AccessDenied"}
             for i in range(1, count + 1)]
    return {"data": {"id": "0e71f117-648f-4ad2-a3a9-8f1b857a1b70", "status": "Failed", "steps": steps}}


def main(runs: int = 30) -> None:
    cases = {name: json.loads((EXAMPLES / name).read_text()) for name in
             ("sample-response.json", "failed-with-steps.json", "running.json")}
    cases["500 hostile steps"] = huge_execution()
    cases["30,000 steps, page 1,000"] = many_steps(30_000)
    print(f"{'execution':24} {'view':8} {'first ms':>9} {'again ms':>9} {'blocks':>6} {'chars':>6} {'bytes':>6}")
    for name, payload in cases.items():
        execution = parse_execution(payload)
        for view in ("summary", "steps", "errors"):
            page = 999 if name.startswith("30,000") else 0
            state = CardState(execution.execution_id or "", view, page)  # type: ignore[arg-type]
            first, again, kept = [], [], Redactor()
            for _ in range(runs):
                for redactor, times in ((Redactor(), first), (kept, again)):
                    started = time.perf_counter()
                    message = render_execution_card(execution, state, fetched_at=datetime.now(UTC), redactor=redactor)
                    times.append(time.perf_counter() - started)
            size = len(json.dumps(message.payload()))
            print(f"{name:24} {view:8} {statistics.median(first) * 1000:9.2f} {statistics.median(again) * 1000:9.2f} "
                  f"{len(message.blocks):6d} "
                  f"{block_text_chars(message.blocks):6d} {size:6d}")
    started = time.perf_counter()
    for _ in range(runs):
        parse_execution(cases["500 hostile steps"])
    print(f"parse 500 hostile steps: {(time.perf_counter() - started) / runs * 1000:.1f} ms")


if __name__ == "__main__":
    main()
