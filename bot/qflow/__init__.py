"""The QFlow API: client, service tokens, models and errors. No Slack in here."""

from .auth import ServiceAccountToken, StaticToken, TokenProvider
from .client import QFlowClient, build_http_client, validate_execution_id
from .errors import (
    AuthenticationFailed,
    ExecutionNotFound,
    Forbidden,
    InvalidExecutionId,
    InvalidResponse,
    QFlowConnectionError,
    QFlowError,
    QFlowStatusError,
    QFlowTimeout,
    RateLimited,
    ServerError,
    Unauthorized,
)
from .models import Execution, StatusKind, Step, WorkflowInfo, find_error_text, parse_execution
from .retry import RetryPolicy

__all__ = [
    "AuthenticationFailed", "Execution", "ExecutionNotFound", "Forbidden", "InvalidExecutionId",
    "InvalidResponse", "QFlowClient", "QFlowConnectionError", "QFlowError", "QFlowStatusError",
    "QFlowTimeout", "RateLimited", "RetryPolicy", "ServerError", "ServiceAccountToken", "StaticToken",
    "StatusKind", "Step", "TokenProvider", "Unauthorized", "WorkflowInfo", "build_http_client",
    "find_error_text", "parse_execution", "validate_execution_id",
]
