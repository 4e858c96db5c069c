from tests.fakes.qualys import FakeQualys
from tests.fakes.slack import FakeSlack

SAMPLE = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"


def test_smoke(app, slack: FakeSlack, qualys: FakeQualys):
    url = slack.new_response_url()
    r = app.command(f"execution {SAMPLE}", url)
    print(r.status_code, r.text)
    posts = slack.wait_for_responses(url)
    print(posts[0].data)
    print(app.log_text)
    assert r.status_code == 200
