"""Recording stubs of outside services that agents call for side effects, each with a ledger."""
