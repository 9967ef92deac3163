"""Apps agegate ships: the report intake and the demo signup app."""
