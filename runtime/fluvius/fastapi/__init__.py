"""The HTTP layer: the FastAPI app a service's declarations make, its auth and its errors."""

from fluvius.fastapi.app import build_app
from fluvius.fastapi.auth import Principal, mint_token

__all__ = ["Principal", "build_app", "mint_token"]
