"""Replay a catalogue of example requests against a gated app."""
