"""Every SQS queue of the stack: encrypted (SQS's own key, or the stage's KMS key), TLS only."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

# What a dead-letter queue says of itself: any queue of the account may redrive into it. That is SQS's
# default; stated, it marks the queue as a dead-letter queue for Control Tower's CT.SQS.PR.1, which
# otherwise asks every queue for a dead-letter queue of its own. (`byQueue` naming the one source
# queue would make the two queues refer to each other, a cycle CloudFormation refuses.)
DEAD_LETTER_QUEUE = sqs.RedriveAllowPolicy(redrive_permission=sqs.RedrivePermission.ALLOW_ALL)


def queue(
    scope: Construct,
    construct_id: str,
    *,
    encryption_key: kms.IKey | None,
    retention_period: Duration,
    removal_policy: RemovalPolicy,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
    is_dead_letter_queue: bool = False,
    visibility_timeout: Duration | None = None,
) -> sqs.Queue:
    """A queue that redrives into `dead_letter_queue`, or (`is_dead_letter_queue`) is one itself."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED if encryption_key is None else sqs.QueueEncryption.KMS,
        encryption_master_key=encryption_key,
        enforce_ssl=True,
        retention_period=retention_period,
        removal_policy=removal_policy,
        dead_letter_queue=dead_letter_queue,
        redrive_allow_policy=DEAD_LETTER_QUEUE if is_dead_letter_queue else None,
        visibility_timeout=visibility_timeout,
    )
