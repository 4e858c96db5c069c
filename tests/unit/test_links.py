import pytest

from bot.links import LinkMatcher, execution_id_in_token, execution_id_in_url, unwrap_slack_links
from bot.qflow.platforms import PLATFORMS

A = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
B = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"
matcher = LinkMatcher(["qflow.corp.example"])


def test_a_uuid_after_execution_is_preferred():
    assert execution_id_in_url(f"https://q/workflows/{B}/executions/{A}") == A
    assert execution_id_in_url(f"https://q/app#/run?workflowId={B}&executionId={A}") == A
    assert execution_id_in_url(f"https://q/x?workflow={B}&execution_id={A}") == A
    assert execution_id_in_url(f"https://q/workflows/{B}") == B
    assert execution_id_in_url("https://q/nothing") is None


def test_encoded_and_slack_wrapped_links():
    assert execution_id_in_url(f"https://q/x?execution%3D{A}") == A
    assert unwrap_slack_links(f"see <https://q/e/{A}|this> and <https://q/y>") == f"see https://q/e/{A} and https://q/y"


def test_tokens():
    assert execution_id_in_token(A.upper()) == A
    assert execution_id_in_token(f"<https://q/executions/{A}>") == A
    assert execution_id_in_token(A + "ff") is None
    assert execution_id_in_token("x" + A) is None


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_every_platform_ui_host_is_recognised(platform):
    host = PLATFORMS[platform].ui_host
    assert matcher.execution_in_link(f"https://{host}/portal-front/qflow/#/executions/{A}") == A
    assert matcher.execution_in_link(f"https://{host.upper()}:443/x?executionId={A}") == A


@pytest.mark.parametrize("url,expected", [
    (f"https://qflow.corp.example/runs/{A}", A),                    # operator-added domain
    (f"https://eu.qflow.corp.example/runs/{A}", A),                 # and its subdomains
    (f"https://sub.qualysguard.qualys.com/e/{A}", A),
    (f"https://qualysguard.qualys.com#/executions/{A}", A),         # in the fragment
    (f"https://qualysguard.qualys.com/?id={A}", A),                 # in the query
    (f"https://qualysguard.qualys.com.evil.example/e/{A}", None),   # a look-alike host
    (f"https://evilqualysguard.qualys.co/e/{A}", None),
    (f"https://example.com/?next=https://qualysguard.qualys.com/e/{A}", None),
    (f"ftp://qualysguard.qualys.com/e/{A}", None),
    ("https://qualysguard.qualys.com/portal/dashboard", None),
    ("https://[not a host/e", None),
])
def test_links(url, expected):
    assert matcher.execution_in_link(url) == expected


def test_find_in_message_text():
    text = (f"failed again: <https://qualysguard.qualys.com/qflow/#/executions/{A}|the run>, "
            f"also {B.upper()}. Not <https://evil.example/e/{A.replace('0e', '1e')}>, "
            f"dup https://qualysguard.qualys.eu/e/{A}.")
    found = matcher.find(text)
    assert [f.execution_id for f in found] == [A, B]
    assert found[0].url == f"https://qualysguard.qualys.com/qflow/#/executions/{A}" and found[1].url is None
    assert matcher.find("") == [] and matcher.find("no ids <@U123> here") == []


def test_trailing_punctuation_is_not_part_of_a_link():
    [found] = matcher.find(f"see https://qualysguard.qualys.com/e/{A}).")
    assert found.url == f"https://qualysguard.qualys.com/e/{A}"


# --- links are read as a browser reads them, generated -------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bot.links import QUALYS_UI_HOSTS  # noqa: E402

EID_ = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
qualys_hosts = st.sampled_from(QUALYS_UI_HOSTS).flatmap(lambda h: st.sampled_from([
    h, h.upper(), h + ".", h.replace(".", "%2e"), h.replace(".", "%2E"), "sub." + h, h.replace(".", "\uff0e"),
]))
foreign_hosts = st.sampled_from(QUALYS_UI_HOSTS).flatmap(lambda h: st.sampled_from([
    h + ".evil.example", "evil" + h, h.replace("a", "\u0430", 1), h.replace("q", "\u0071\u0307", 1),
    h + "..", h.replace(".", "-"), "evil.example", "127.0.0.1", "[::1]", h.rsplit(".", 1)[0] + ".evil",
]))
decoy_parts = st.lists(st.sampled_from(["qualysguard.qualys.com", "qualys.com", ":", "%40", "%2F", "x", "."]),
                       max_size=4).map("".join)
ports = st.sampled_from(["", ":443", ":8443", ":80"])


@given(st.booleans(), qualys_hosts, foreign_hosts, decoy_parts, ports, st.sampled_from(["/", "\\", "?q=", "#"]),
       st.booleans())
def test_a_link_is_qualys_only_when_the_host_a_browser_opens_is(qualys, good, bad, decoy, port, separator, userinfo):
    host = good if qualys else bad
    # The decoy (often a Qualys host) sits in the user info or after the host: never the host itself.
    url = f"https://{decoy + '@' if userinfo else ''}{host}{port}{separator}{decoy}/executions/{EID_}"
    found = LinkMatcher().execution_in_link(url)
    assert found == (EID_ if qualys else None), url


@given(st.sampled_from(QUALYS_UI_HOSTS), st.sampled_from(["\\", "\\\\", "/\\", "\\x"]), decoy_parts)
def test_a_backslash_before_the_at_sign_never_hides_the_real_host(qualys_host, slash, decoy):
    url = f"https://evil.example{slash}{decoy}@{qualys_host}/executions/{EID_}"
    assert LinkMatcher().execution_in_link(url) is None, url


def test_each_link_text_is_read_by_the_url_parser_once(monkeypatch):
    """In a storm the same links arrive hundreds of times: each text is parsed once and its parts kept
    (every call into the C parser hands the interpreter to another thread)."""
    import bot.links as links

    made = []

    class Counting(links.URL):  # type: ignore[misc]
        def __init__(self, url: str) -> None:
            made.append(url)
            super().__init__(url)

    monkeypatch.setattr(links, "URL", Counting)
    unique = id(made)  # texts no other test has read (the parts are kept for the whole process)
    url, junk = f"https://qualysguard.qg2.apps.qualys.com/x/executions/{A}?n={unique}", f"not a url {unique}"
    assert [matcher.execution_in_link(url) for _ in range(3)] == [A] * 3
    assert execution_id_in_url(url) == A
    assert made == [url]
    assert links.parse_url(junk) is None and links.parse_url(junk) is None
    assert made == [url, junk]
    kept = links._read_url.cache_info().currsize
    too_long = f"https://qualysguard.qg2.apps.qualys.com/{'x' * links.MAX_URL_CHARS}/executions/{A}"
    assert links.parse_url(too_long) is None and matcher.execution_in_link(too_long) is None
    assert made == [url, junk] and links._read_url.cache_info().currsize == kept  # neither read nor kept
