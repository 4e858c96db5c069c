"""Payload fields are read by shape: whatever a field holds, a helper answers or says None."""

from hypothesis import given
from hypothesis import strategies as st

from bot.slack.payload import ID_CHARS, items, mapping, slack_id, text, web_url

anything = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                    max_size=3), max_leaves=10)


@given(anything, anything)
def test_every_helper_answers_any_shape_without_raising(outer, inner):
    body = {"a": outer, "b": {"c": inner}}
    assert isinstance(mapping(body, "b", "c"), dict) or mapping(body, "b", "c") == inner
    for found in (text(body, "a"), text(body, "b", "c"), slack_id(body, "a"), web_url(body, "a")):
        assert found is None or isinstance(found, str)
    assert all(isinstance(i, dict) for i in items(body, "a"))
    assert slack_id(body, "a") is None or len(slack_id(body, "a")) <= ID_CHARS


def test_only_http_urls_are_response_urls():
    ok = ["https://hooks.slack.com/commands/T1/1/x", "http://127.0.0.1:8080/response/1"]
    bad = ["file:///etc/passwd", "javascript:alert(1)", "ftp://x/y", "https://", "//hooks.slack.com/x", "hooks"]
    assert [web_url({"u": u}, "u") for u in ok] == ok
    assert [web_url({"u": u}, "u") for u in bad] == [None] * len(bad)


def test_a_response_url_must_be_one_the_post_can_address():
    # Read as the post reads it (urlsplit): a host that is not one, or a port out of range, is refused here.
    bad = ["http://[::1", "https://[not-ip]/x", "http://h:99999/x", "http://h:-1/x", "http://h:port/x", "https://:443/x",
           "https://exa mple.com/x", "https://évil.example/x", "https://a_b.example/x", "https://-a.example/x",
           "https://a.example-/x", "https://x@/y", "https://%41.example/x"]
    assert [web_url({"u": u}, "u") for u in bad] == [None] * len(bad)
    good = ["HTTPS://Hooks.Slack.com/a", "http://127.0.0.1:8080/r/1", "http://[::1]:8080/r", "https://u:p@hooks.slack.com/x",
            "https://hooks.slack.com./x"]
    assert [web_url({"u": u}, "u") for u in good] == good


@given(st.sampled_from(["http://", "https://", "HTTP://", "ftp://", "//", ""]), st.text(max_size=40))
def test_any_response_url_text_is_answered_without_raising(scheme, rest):
    from urllib.parse import urlsplit

    found = web_url({"u": scheme + rest}, "u")
    if found is not None:
        parts = urlsplit(found)
        assert parts.scheme.lower() in ("http", "https") and parts.hostname and (parts.port is None or parts.port >= 0)
        assert parts.hostname.isascii() and not any(c.isspace() for c in parts.hostname)
