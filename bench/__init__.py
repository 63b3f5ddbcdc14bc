"""Benchmarks of the ingest path (`make bench`): each timed figure a ratio to a baseline of the same run.

Development only: not part of the Lambda asset (lambda_src/). Loopback only, bounded in time and traffic.
"""
