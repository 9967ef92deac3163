"""Carrying out removals: what was removed, and the proof that it was."""
