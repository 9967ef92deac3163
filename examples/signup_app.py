"""The example signup service gated by AgeGateMiddleware.

It ships inside the package as `agegate.apps.demo` so that `agegate demo` works
after `pip install agegate`; this file re-exports it for readers of the
repository. Run it with:

    uvicorn --factory examples.signup_app:app

or simply `agegate demo`.
"""

from __future__ import annotations

import os
import tempfile

from starlette.applications import Starlette

from agegate.apps.demo import SERVICE, create_app

__all__ = ["SERVICE", "app", "create_app"]


def app() -> Starlette:
    """A factory for `uvicorn --factory`: data in $AGEGATE_DEMO_DIR or a temp dir."""
    data_dir = os.environ.get("AGEGATE_DEMO_DIR") or tempfile.mkdtemp(
        prefix="agegate-demo-"
    )
    return create_app(data_dir)
