"""The batch-review door: read account stores, screen every row, flag minors."""
