from bot.render.plain import message_as_text, mrkdwn_as_text


def test_markup_reads_as_a_person_sees_it():
    assert mrkdwn_as_text("*Steps* · <!date^1746007562^{date_short_pretty}|2025-04-30 10:06 UTC>") == \
        "Steps · 2025-04-30 10:06 UTC"
    assert mrkdwn_as_text("<https://x.example/a|the run> and <https://y.example/b>") == "the run and https://y.example/b"
    assert mrkdwn_as_text("a &lt;b&gt; &amp; c, 2*3*4 stays, <@U123> <!here>") == "a <b> & c, 2*3*4 stays, @U123 !here"


def test_each_kind_of_block():
    payload = {"blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "*Cloud*\nAWS"}, {"type": "mrkdwn", "text": "lone"}]},
        {"type": "divider"},
        {"type": "actions", "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Refresh"}}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "a"}, {"type": "mrkdwn", "text": "b"}]},
    ]}
    assert message_as_text(payload) == "Title\nCloud: AWS\nlone\n" + "─" * 40 + "\n[Refresh]\na · b"
    assert message_as_text({"text": "only text"}) == "only text"
