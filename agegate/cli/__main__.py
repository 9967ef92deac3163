"""`python -m agegate.cli`."""

from .main import main

raise SystemExit(main())
