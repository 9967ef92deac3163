"""Removal flags and their stores, shared by every door."""
