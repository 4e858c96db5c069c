from bot.links import execution_id_in_token, execution_id_in_url, unwrap_slack_links

A = "0e71f117-648f-4ad2-a3a9-8f1b857a1b70"
B = "f516bcf4-f6fb-46ac-a54f-ddbcf2a2d24a"


def test_a_uuid_after_execution_is_preferred():
    assert execution_id_in_url(f"https://q/workflows/{B}/executions/{A}") == A
    assert execution_id_in_url(f"https://q/app#/run?workflowId={B}&executionId={A}") == A
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
