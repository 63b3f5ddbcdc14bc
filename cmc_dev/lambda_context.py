"""A Lambda context object for calling the handler outside Lambda."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class LocalLambdaContext:
    function_name: str = "cmc-webhooks-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:ap-northeast-1:000000000000:function:cmc-webhooks-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/cmc-webhooks-local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 25_000
