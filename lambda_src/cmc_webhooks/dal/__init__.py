"""Adapters: the only modules that talk to AWS. The interfaces they implement live with the logic."""
