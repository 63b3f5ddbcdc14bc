#!/usr/bin/env python3
"""The CDK app: one stack per stage, settings from cdk.json, cdk-nag and the guard rails on every synth.

npx cdk synth                 # the dev stage
npx cdk synth -c stage=prod   # the prod stage
"""

from __future__ import annotations

import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from cmc_webhooks import contract
from infra.guard_rails import guard_rails
from infra.settings import SettingsError, load_settings
from infra.stack import CmcWebhooksStack


def build_app(app: cdk.App) -> CmcWebhooksStack:
    settings = load_settings(app.node)
    # No account/region in `env`: the template is environment-agnostic and synth needs no credentials.
    stack = CmcWebhooksStack(
        app,
        f"{contract.SERVICE_NAME}-{settings.stage}",
        settings=settings,
        description=f"Customers Mail Cloud webhook receiver ({settings.stage})",
    )
    cdk.Tags.of(stack).add("service", contract.SERVICE_NAME)
    cdk.Tags.of(stack).add("stage", settings.stage)
    # cdk-nag 3 is a validation plugin: any unacknowledged finding fails the synth. Acknowledgments
    # (with their reasons) are also written into the template's resource metadata for audit.
    # AWS Control Tower's proactive controls (infra/guard_rails.py): the same rule, the same way.
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True), guard_rails()
    )
    return stack


if __name__ == "__main__":
    app = cdk.App()
    try:
        build_app(app)
    except SettingsError as error:
        # The message names the stage and every wrong key; a traceback would only bury it.
        sys.exit(str(error))
    app.synth()
