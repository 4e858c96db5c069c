import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.qflow.models import parse_execution
from bot.render import CardState, parse_state, render_execution_card
from bot.render.pages import ERRORS_PAGE_SIZE, STEPS_PAGE_SIZE
from tests.slack_checks import all_text, assert_valid_message, buttons

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NOW = datetime(2025, 4, 30, 10, 8, tzinfo=UTC)
EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def example(name):
    return parse_execution(json.loads((EXAMPLES / name).read_text()))


def card(execution, view="summary", page=0, private=True, open_url="https://ui.example/", open_is_run=False):
    message = render_execution_card(execution, CardState(execution.execution_id or EID, view, page, private),
                                    fetched_at=NOW, open_url=open_url, open_is_run=open_is_run)
    payload = message.payload()
    assert_valid_message(payload)
    return payload


def test_summary_of_the_documented_sample():
    payload = card(example("sample-response.json"))
    header = payload["blocks"][0]
    assert header["type"] == "header" and header["text"]["text"].startswith("✅ Success · workflow")
    text = all_text(payload)
    for expected in ("AWS · us-east-1", "AWS Best Practices", "region=us-east-1", "ran 1m 11s", "UI · Simple",
                     "<!date^1746007562^{date_short_pretty} {time}|2025-04-30 10:06 UTC>", f"`{EID}`"):
        assert expected in text
    assert set(buttons(payload)) == {"Refresh", "Open Qualys ↗", "Share in channel"}  # no steps, no errors
    assert buttons(payload)["Open Qualys ↗"]["url"] == "https://ui.example/"
    assert "Success" in payload["text"] and EID in payload["text"]


def test_the_open_button_promises_the_run_only_when_its_link_names_it():
    run_link = f"https://ui.example/qflow/executions/{EID}"
    payload = card(example("sample-response.json"), open_url=run_link, open_is_run=True)
    assert buttons(payload)["Open in Qualys ↗"]["url"] == run_link and "Open Qualys ↗" not in buttons(payload)


@pytest.mark.parametrize("name", ["sample-response.json", "failed-with-steps.json", "running.json"])
@pytest.mark.parametrize("view", ["summary", "steps", "errors"])
@pytest.mark.parametrize("private", [True, False])
def test_at_most_one_primary_button_and_nothing_red(name, view, private):
    styles = [b.get("style") for b in buttons(card(example(name), view=view, private=private)).values()]
    assert styles.count("primary") <= 1 and "danger" not in styles
    if private:
        assert buttons(card(example(name), view=view))["Share in channel"]["style"] == "primary"


def test_opaque_ids_take_no_field_on_the_summary_and_stay_in_the_details():
    execution = example("failed-with-steps.json")
    summary, steps = all_text(card(execution)), all_text(card(execution, view="steps"))
    assert "created_by" not in summary and "*Accounts*" not in summary and "*Tags*" not in summary
    assert "created_by=0ffaf046-768b-79fc-83f6-aa25be52c2a1" in steps and "…f327855b316a" in steps
    readable = execution.model_copy(update={"tags": ["team=cloud-ops", "created_by=0ffaf046-768b-79fc-83f6-aa25be52c2a1"]})
    readable = readable.model_copy(update={"categories": readable.categories.model_copy(
        update={"accounts": ["123456789012", "@aa70acae-6ea8-3acf-b504-f327855b316a"]})})
    summary = all_text(card(readable))
    assert "*Tags*\nteam=cloud-ops" in summary and "created_by" not in summary
    assert "*Accounts*\n123456789012" in summary and "b316a" not in summary


def test_failed_run_leads_with_its_first_error_and_offers_steps_and_errors():
    payload = card(example("failed-with-steps.json"))
    assert payload["blocks"][0]["text"]["text"].startswith("❌ Failed")
    text = all_text(payload)
    assert "*First error:* *filter*" in text and "AccessDenied" in text
    assert "api_password=•••" in text and "hunter2" not in text
    assert "4 · 1 failed" in text
    b = buttons(payload)
    assert "Show steps" in b and "Show errors" in b
    assert parse_state(b["Show steps"]["value"]) == CardState(
        "7c9e6679-7425-40de-944b-e07fc1f90ae7", "steps", 0, True)


def test_steps_expand_in_place_with_order_marker_timing_and_error():
    payload = card(example("failed-with-steps.json"), view="steps")
    text = all_text(payload)
    assert "` 1` ✅ *qualysevent* `trigger`  0.8 s" in text
    assert "` 2` ✅ *awsapi*" in text and "12.1 s ▇▇▇▇▇▇▇▇" in text
    assert "` 3` ❌ *filter*" in text and "↳ AccessDenied" in text
    assert "` 4` ⏭️ *remediate*" in text and "↳ Upstream node failed; skipped" in text
    assert "Hide steps" in buttons(payload) and "Show steps" not in buttons(payload)
    assert "Next ›" not in buttons(payload)  # one page only


def test_errors_view():
    payload = card(example("failed-with-steps.json"), view="errors")
    text = all_text(payload)
    assert "*Errors* · 1 step with errors" in text and "` 3` ❌ *filter*" in text
    assert "Hide errors" in buttons(payload)


def test_running_execution():
    payload = card(example("running.json"))
    text = all_text(payload)
    assert payload["blocks"][0]["text"]["text"].startswith("⏳ Running")
    assert "still running" in text and "running for" in text


@pytest.mark.parametrize("status,marker", [("Cancelled", "🚫"), ("TIMEOUT", "⌛"), ("Queued", "🕒"),
                                           ("Frobnicated", "⚪"), (None, "⚪")])
def test_status_markers_and_undocumented_status_verbatim(status, marker):
    payload = card(parse_execution({"id": EID, "status": status}))
    assert payload["blocks"][0]["text"]["text"].startswith(f"{marker} {status or 'Unknown status'}")


def long_steps(n, text_len=400):
    return [{"eventOrder": i, "nodeId": f"node-{i}", "nodeType": "t" * 80, "name": "N" * 300,
             "status": "Failed" if i % 3 == 0 else "Success",
             "createdAt": 1746007562041 + i * 1000, "updatedAt": 1746007562041 + i * 1000 + 500,
             "error": "<!channel> & " + "x" * text_len} for i in range(1, n + 1)]


def test_long_step_lists_page_with_previous_and_next():
    execution = parse_execution({"id": EID, "status": "Failed", "steps": long_steps(95)})
    pages = -(-95 // STEPS_PAGE_SIZE)
    first = card(execution, view="steps")
    assert f"page 1 of {pages}" in all_text(first)
    assert "Next ›" in buttons(first) and "‹ Previous" not in buttons(first)
    nxt = parse_state(buttons(first)["Next ›"]["value"])
    assert (nxt.view, nxt.page) == ("steps", 1)
    last = card(execution, view="steps", page=pages - 1)
    assert "‹ Previous" in buttons(last) and "Next ›" not in buttons(last)
    assert "`95` " in all_text(last)
    # A page past the end (an old button after the run shrank, or a forged value) shows the last page.
    assert f"page {pages} of {pages}" in all_text(card(execution, view="steps", page=10_000))
    errors = card(execution, view="errors")
    assert f"page 1 of {-(-95 // ERRORS_PAGE_SIZE)}" in all_text(errors)  # every step holds an error


def test_hostile_and_huge_api_text_stays_inside_slack_limits():
    huge = "<!channel> <@U123> <https://evil.example|click> *bold* `code` & " + "y" * 5000
    data = {
        "id": EID, "status": huge, "workflow": huge, "workflowName": huge, "source": huge, "executionType": huge,
        "error": huge, "variables": [f"k{i}={huge}" for i in range(300)], "tags": [huge] * 300,
        "categories": {k: [huge] * 50 for k in ("services", "accounts", "regions", "resource_groups",
                                               "projects", "solutions", "apps", "cloud_providers")},
        "linkedExecutionIds": [huge] * 20, "parentExecutionId": huge,
        "steps": long_steps(500, text_len=5000),
        "startDate": 1746007562041, "endDate": 1746007633052,
    }
    execution = parse_execution({"data": data})
    for view in ("summary", "steps", "errors"):
        for page in (0, 3):
            payload = card(execution, view=view, page=page)  # assert_valid_message checks limits and escaping
            assert "&lt;!channel&gt;" in all_text(payload)


def test_shared_cards_have_no_share_button_and_no_open_without_ui():
    payload = card(example("sample-response.json"), private=False, open_url=None)
    assert set(buttons(payload)) == {"Refresh"}
    assert parse_state(buttons(payload)["Refresh"]["value"]).private is False


def test_fallback_text_is_escaped():
    payload = card(parse_execution({"id": EID, "status": "Failed", "workflowName": "<!here> deploy"}))
    assert "&lt;!here&gt; deploy" in payload["text"] and "<!here>" not in payload["text"]
