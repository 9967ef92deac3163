"""Removal carried out and proven: plans, erasers, tombstones and receipts."""
