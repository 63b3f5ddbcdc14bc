"""An optional AWS WAF web ACL on the API stage: one rate-based rule per source IP address.

Only the rate rule, on purpose. AWS's managed rule groups add little here and risk losing webhooks:
the Core rule set blocks bodies above 8 KB (a CMC batch of 100 events is larger), and a blocked
webhook holds up to 100 events; Known Bad Inputs looks for Log4j and Java
deserialization payloads, while the function is Python and bounce replies quoted in the body are
text written by remote mail servers. The function authenticates every webhook itself.
"""

from __future__ import annotations

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

RATE_RULE_NAME = "RequestsPerSourceIp"
# The rate is counted over 5 minutes (WAF's default window), as the setting's name says.
EVALUATION_WINDOW_SECONDS = 300


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    # Sampled requests would keep request details (headers, including Authorization) in WAF's console.
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=False
    )


class WebhookFirewall(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: apigw.Stage, rate_limit_per_5min: int
    ) -> None:
        super().__init__(scope, construct_id)
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            # WAF allows no quotes or underscores here.
            description=f"Blocks a source IP address that sends more than {rate_limit_per_5min} requests "
            "in 5 minutes",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("WebhookApi"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name=RATE_RULE_NAME,
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            limit=rate_limit_per_5min,
                            aggregate_key_type="IP",
                            evaluation_window_sec=EVALUATION_WINDOW_SECONDS,
                        )
                    ),
                    visibility_config=_visibility(RATE_RULE_NAME),
                )
            ],
        )
        self.association = wafv2.CfnWebACLAssociation(
            self, "Association", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
