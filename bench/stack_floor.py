"""The floor handler, after the libraries the architecture asks for: a cold start's lower bound.

Imports and builds what handlers/api.py takes from Powertools (Logger, Metrics, Tracer, the REST
resolver, Parser) and pydantic, with garbage collection off during the import as there, then answers
as the floor does (one PutItem). Its cold start, divided by the floor's, is what those libraries cost
before a line of ours runs: the part of cold_start_ratio that our code cannot change.
"""

from __future__ import annotations

import gc

# The floor's own imports (boto3) first, with the collector on as in the floor child: only the
# libraries' import gets what the handler gives it, the collector off.
from bench.baselines import floor_handler
from cmc_webhooks import contract

gc.disable()  # as handlers/api.py does during its import

from aws_lambda_powertools import Logger, Metrics, Tracer  # noqa: E402
from aws_lambda_powertools.event_handler import APIGatewayRestResolver  # noqa: E402
from aws_lambda_powertools.utilities.parser import parse  # noqa: E402, F401
from pydantic import BaseModel  # noqa: E402, F401

LOGGER = Logger(service=contract.SERVICE_NAME)
METRICS = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE_NAME)
TRACER = Tracer(service=contract.SERVICE_NAME, patch_modules=contract.TRACED_MODULES)  # as the handler
RESOLVER = APIGatewayRestResolver()

gc.freeze()
gc.enable()

__all__ = ["floor_handler"]
