"""Agents with deliberate resilience bugs. Each one must be flagged by the checker."""
