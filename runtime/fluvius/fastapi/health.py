"""`/healthz` (the process answers) and `/readyz` (and so do its database and its workers)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from fluvius.fastapi.problems import ProblemError, problem_responses
from fluvius.fastapi.routes import ServiceRoute
from fluvius.fastapi.runtime import Runtime


class Health(BaseModel):
    status: Literal["OK"] = "OK"


def health_router(runtime: Runtime) -> APIRouter:
    """The health routes of a service."""
    router = APIRouter(tags=["health"], route_class=ServiceRoute)

    @router.get("/healthz", response_model=Health, summary="The process is up")
    async def healthz() -> Health:
        return Health()

    @router.get(
        "/readyz",
        response_model=Health,
        summary="The service can reach its database, and its in-process workers run",
        responses=problem_responses(HTTPStatus.SERVICE_UNAVAILABLE),
    )
    async def readyz() -> Health:
        try:
            async with runtime.database.read.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as error:
            raise ProblemError(
                HTTPStatus.SERVICE_UNAVAILABLE,
                "database-unavailable",
                f"the database does not answer: {type(error).__name__}",
            ) from None
        problem = runtime.workers.problem() if runtime.workers is not None else None
        if problem is not None:
            raise ProblemError(HTTPStatus.SERVICE_UNAVAILABLE, "workers-unavailable", problem)
        return Health()

    return router
