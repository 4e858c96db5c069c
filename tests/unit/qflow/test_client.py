import json
import time

import httpx
import pytest

from bot.qflow import (
    AuthenticationFailed,
    ExecutionNotFound,
    Forbidden,
    InvalidExecutionId,
    InvalidResponse,
    QFlowClient,
    QFlowConnectionError,
    QFlowTimeout,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceAccountToken,
    StaticToken,
    Unauthorized,
    build_http_client,
)
from bot.qflow.auth import jwt_expiry
from tests.fakes.qualys import make_jwt

GATEWAY = "https://gateway.test"
EID = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
OK_BODY = {"data": {"id": EID, "status": "Success", "steps": [{"eventOrder": 1, "status": "Success"}]}}


class Script:
    """A MockTransport handler that answers from a list and fails on anything unexpected."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def ok(body=OK_BODY, status=200, **kw):
    return httpx.Response(status, json=body, **kw)


def err(status, message="", headers=None):
    return httpx.Response(status, json={"status": status, "error": "x", "message": message}, headers=headers or {})


def client(script, tokens=None, method="POST", attempts=3, sleeps=None):
    http = build_http_client(5, httpx.MockTransport(script))
    return QFlowClient(GATEWAY, tokens or StaticToken("static.jwt.token"), http, execution_method=method,
                       retry=RetryPolicy(max_attempts=attempts),
                       sleep=(sleeps.append if sleeps is not None else lambda s: None))


def test_execution_details_request_as_documented():
    script = Script(ok())
    e = client(script).get_execution(EID.upper())
    request = script.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"{GATEWAY}/qflowapi/v1/executions/{EID}?includeSteps=true"
    assert request.headers["authorization"] == "Bearer static.jwt.token"
    assert request.headers["accept"] == "application/json"
    assert request.headers["content-type"] == "application/json"
    assert e.execution_id == EID and len(e.steps) == 1


def test_method_is_settable_and_include_steps_false():
    script = Script(ok())
    client(script, method="GET").get_execution(EID, include_steps=False)
    assert script.requests[0].method == "GET"
    assert script.requests[0].url.params["includeSteps"] == "false"


@pytest.mark.parametrize("bad", ["", "abc", "0e71f117648f4ad2a3a98f1b857a1b70", "{" + EID + "}", EID + "0",
                                 "../../etc/passwd", "urn:uuid:" + EID])
def test_malformed_ids_make_no_request(bad):
    script = Script()
    with pytest.raises(InvalidExecutionId):
        client(script).get_execution(bad)
    assert script.requests == []


@pytest.mark.parametrize("status,error", [(403, Forbidden), (404, ExecutionNotFound), (400, Exception)])
def test_status_errors_are_typed_and_not_retried(status, error):
    script = Script(err(status))
    with pytest.raises(error) as info:
        client(script).get_execution(EID)
    assert info.value.status_code == status and len(script.requests) == 1


def test_static_token_401_is_not_retried():
    script = Script(err(401, "JWT expired"))
    with pytest.raises(Unauthorized) as info:
        client(script).get_execution(EID)
    assert info.value.message == "JWT expired" and len(script.requests) == 1


def test_429_honours_retry_after_then_succeeds():
    sleeps = []
    script = Script(err(429, headers={"Retry-After": "2"}), ok())
    client(script, sleeps=sleeps).get_execution(EID)
    assert sleeps == [2.0] and len(script.requests) == 2


def test_429_with_qualys_wait_header():
    sleeps = []
    script = Script(err(429, headers={"X-RateLimit-ToWait-Sec": "3"}), ok())
    client(script, sleeps=sleeps).get_execution(EID)
    assert sleeps == [3.0]


def test_429_past_the_bound_is_reported_at_once():
    script = Script(err(429, headers={"Retry-After": "3600"}))
    with pytest.raises(RateLimited) as info:
        client(script).get_execution(EID)
    assert info.value.retry_after == 3600 and len(script.requests) == 1


def test_429_without_retry_after_backs_off_then_gives_up():
    sleeps = []
    script = Script(err(429), err(429), err(429))
    with pytest.raises(RateLimited):
        client(script, sleeps=sleeps).get_execution(EID)
    assert len(script.requests) == 3 and len(sleeps) == 2 and all(s > 0 for s in sleeps)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_is_retried_with_growing_backoff(status):
    sleeps = []
    script = Script(err(status), err(status), err(status))
    with pytest.raises(ServerError) as info:
        client(script, sleeps=sleeps).get_execution(EID)
    assert info.value.status_code == status and len(script.requests) == 3
    assert 0.25 <= sleeps[0] <= 0.5 and 0.5 <= sleeps[1] <= 1.0


def test_5xx_then_success():
    script = Script(err(502), ok())
    assert client(script).get_execution(EID).execution_id == EID


def test_timeouts_and_connection_errors_become_typed_after_retries():
    script = Script(*[httpx.ReadTimeout("slow")] * 3)
    with pytest.raises(QFlowTimeout):
        client(script).get_execution(EID)
    assert len(script.requests) == 3
    script = Script(httpx.ConnectError("refused"), httpx.RemoteProtocolError("reset"), httpx.ConnectError("x"))
    with pytest.raises(QFlowConnectionError):
        client(script).get_execution(EID)
    assert len(script.requests) == 3
    script = Script(httpx.ConnectError("blip"), ok())
    assert client(script).get_execution(EID).status == "Success"


@pytest.mark.parametrize("response", [
    httpx.Response(200, text="<html><body>Gateway maintenance</body></html>", headers={"content-type": "text/html"}),
    httpx.Response(200, text='{"data": {"id": "0e71f117', headers={"content-type": "application/json"}),
    httpx.Response(200, json=["not", "an", "object"]),
    httpx.Response(200, json={"data": "a string"}),
])
def test_bodies_that_are_not_the_expected_json(response):
    with pytest.raises(InvalidResponse):
        client(Script(response)).get_execution(EID)


def test_steps_endpoint_and_workflow_definition():
    script = Script(ok({"total": 1, "items": [{"nodeId": "trigger", "eventOrder": 1}]}),
                    ok({"data": {"name": "WF", "definition": json.dumps({"components": [{"id": "trigger", "name": "Start"}]})}}))
    c = client(script)
    steps, total, size = c.get_steps(EID)
    assert total == 1 and steps[0].node_id == "trigger" and size > 0
    assert script.requests[0].method == "GET" and script.requests[0].url.path.endswith(f"/executions/{EID}/steps")
    info = c.get_workflow("f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a")
    assert info.name == "WF" and info.node_names == {"trigger": "Start"}


# --- service account tokens -------------------------------------------------------


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def auth_reply(exp: float, serial: int = 1) -> httpx.Response:
    return httpx.Response(201, text=make_jwt(exp, serial=serial), headers={"content-type": "text/plain"})


def service_account(script, clock):
    http = build_http_client(5, httpx.MockTransport(script))
    return ServiceAccountToken(GATEWAY, "svc", "s3cret-pass", http, clock=clock), http


def test_login_is_a_form_post_with_a_plain_text_jwt_reply():
    clock = Clock(1_000_000)
    script = Script(auth_reply(clock.now + 4 * 3600))
    tokens, _ = service_account(script, clock)
    token = tokens.token()
    request = script.requests[0]
    assert request.method == "POST" and str(request.url) == f"{GATEWAY}/auth"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(httpx.QueryParams(request.content.decode())) == {"username": "svc", "password": "s3cret-pass", "token": "true"}
    assert jwt_expiry(token) == clock.now + 4 * 3600


def test_token_is_reused_until_shortly_before_exp():
    clock = Clock(1_000_000)
    script = Script(auth_reply(clock.now + 3600, 1), auth_reply(clock.now + 7200, 2))
    tokens, _ = service_account(script, clock)
    first = tokens.token()
    clock.now += 3600 - 301
    assert tokens.token() == first and len(script.requests) == 1
    clock.now += 2  # inside the 5-minute margin
    assert tokens.token() != first and len(script.requests) == 2


def test_expired_jwt_is_renewed_once_on_401():
    clock = Clock(time.time())
    script = Script(auth_reply(clock.now + 3600, 1), err(401, "JWT expired"), auth_reply(clock.now + 3600, 2), ok())
    tokens, http = service_account(script, clock)
    c = QFlowClient(GATEWAY, tokens, http, sleep=lambda s: None)
    assert c.get_execution(EID).execution_id == EID
    assert [r.url.path for r in script.requests] == ["/auth", f"/qflowapi/v1/executions/{EID}", "/auth",
                                                     f"/qflowapi/v1/executions/{EID}"]
    assert script.requests[1].headers["authorization"] != script.requests[3].headers["authorization"]


def test_a_fresh_token_refused_again_is_unauthorized():
    clock = Clock(time.time())
    script = Script(auth_reply(clock.now + 3600, 1), err(401), auth_reply(clock.now + 3600, 2), err(401))
    tokens, http = service_account(script, clock)
    with pytest.raises(Unauthorized):
        QFlowClient(GATEWAY, tokens, http, sleep=lambda s: None).get_execution(EID)
    assert len(script.requests) == 4


def test_bad_credentials_fail_without_retry_and_without_the_password():
    script = Script(err(401, "Bad credentials"))
    tokens, http = service_account(script, Clock(0))
    with pytest.raises(AuthenticationFailed) as info:
        QFlowClient(GATEWAY, tokens, http, sleep=lambda s: None).get_execution(EID)
    assert info.value.status_code == 401 and len(script.requests) == 1
    assert "s3cret-pass" not in repr(info.value) + str(info.value) + repr(tokens)


def test_auth_outage_is_retried_like_any_5xx():
    clock = Clock(time.time())
    script = Script(err(503), httpx.ConnectError("down"), auth_reply(clock.now + 3600), ok())
    tokens, http = service_account(script, clock)
    assert QFlowClient(GATEWAY, tokens, http, sleep=lambda s: None).get_execution(EID).status == "Success"


def test_auth_reply_that_is_not_a_jwt():
    script = Script(httpx.Response(201, text="<html>login page</html>"))
    tokens, http = service_account(script, Clock(0))
    with pytest.raises(InvalidResponse):
        QFlowClient(GATEWAY, tokens, http, sleep=lambda s: None).get_execution(EID)


# --- whole-answer deadlines and size bounds, over a real loopback socket -----------------------------

from tests.fakes._server import LoopbackServer, Reply  # noqa: E402


def loopback(reply: Reply) -> LoopbackServer:
    return LoopbackServer(lambda request: reply).start()


def test_an_answer_that_drips_ends_at_its_deadline_not_per_read():
    server = loopback(Reply(200, json.dumps({"data": {"id": EID, "pad": "x" * 2000}}), fault="drip"))
    try:
        client = QFlowClient(server.url, StaticToken("a.b.c"), build_http_client(5.0), answer_seconds=0.4,
                             retry=RetryPolicy(max_attempts=1))
        started = time.monotonic()
        with pytest.raises(QFlowTimeout):
            client.get_execution(EID)
        # Each byte arrives well inside the 5 s read timeout; only the deadline can end this.
        assert time.monotonic() - started < 5.0
    finally:
        server.stop()


def test_an_answer_larger_than_the_bound_is_refused_unread():
    body = json.dumps({"data": {"id": EID, "pad": "x" * 3000}}).encode()
    server = loopback(Reply(200, body))  # declares its length
    undeclared = httpx.MockTransport(lambda request: httpx.Response(200, content=iter([body[:1500], body[1500:]])))
    try:
        for http in (build_http_client(5.0), build_http_client(5.0, undeclared)):
            client = QFlowClient(server.url, StaticToken("a.b.c"), http, max_body_bytes=1000,
                                 retry=RetryPolicy(max_attempts=1))
            with pytest.raises(InvalidResponse, match="larger than"):
                client.get_execution(EID)
    finally:
        server.stop()
