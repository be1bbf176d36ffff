"""Stubs of external services that agents call for side effects, each with a ledger."""
