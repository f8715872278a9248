"""A service's settings, from the environment and the project's `.env` (the environment wins)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import dotenv_values

from fluvius.observability.hooks import traces_configured

PREFIX = "FLUVIUS_"
MIN_SECRET_BYTES = 32  # HS256 keys shorter than its hash are guessable offline (RFC 7518 3.2)
ROOT_VARIABLE = "FLUVIUS_PROJECT_ROOT"


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable to set."""


@dataclass(frozen=True)
class Settings:
    """Where the service stores data, how it checks tokens, and who may call it from browsers."""

    database_url: str
    read_database_url: str | None = None
    redis_url: str | None = None
    jwt_secret: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    database_pool_size: int = 20
    database_pool_timeout_s: float = 5.0
    workers_in_process: bool = True
    worker_poll_s: float = 0.5
    worker_retry_base_s: float = 1.0
    worker_timeout_s: float = 300.0
    worker_concurrency: int = 8
    consistency_wait_s: float = 2.0
    metrics: bool = False
    tracing: bool = False
    media_url: str = "var/media"
    media_max_bytes: int = 100 * 1000 * 1000
    media_upload_ttl_s: int = 3600
    media_presign: bool = False
    media_link_s: int = 300
    extra: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(
        cls, service: str, root: Path | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        """Settings of `service` from `root`/.env and the environment (default: os.environ)."""
        root = root or Path(os.environ.get(ROOT_VARIABLE) or Path.cwd())
        environment = os.environ if environ is None else environ
        values = {
            key: value for key, value in dotenv_values(root / ".env").items() if value is not None
        }
        values.update(environment)

        def get(name: str) -> str | None:
            return values.get(PREFIX + name) or None

        default_database = f"sqlite:///{(root / 'var' / f'{service}.db').resolve()}"
        database_url = get("DATABASE_URL") or default_database
        return cls(
            database_url=database_url,
            read_database_url=_replicas(get("READ_DATABASE_URL"), database_url),
            redis_url=get("REDIS_URL"),
            jwt_secret=get("JWT_SECRET"),
            jwt_jwks_url=get("JWT_JWKS_URL"),
            jwt_issuer=get("JWT_ISSUER"),
            jwt_audience=get("JWT_AUDIENCE"),
            cors_origins=_listed(get("CORS_ORIGINS")),
            max_body_bytes=_integer(get("MAX_BODY_BYTES"), "MAX_BODY_BYTES", cls.max_body_bytes),
            database_pool_size=_integer(
                get("DB_POOL_SIZE"), "DB_POOL_SIZE", cls.database_pool_size
            ),
            database_pool_timeout_s=_number(
                get("DB_POOL_TIMEOUT_SECONDS"),
                "DB_POOL_TIMEOUT_SECONDS",
                cls.database_pool_timeout_s,
            ),
            workers_in_process=(get("WORKERS") or "in-process") != "off",
            worker_poll_s=_number(
                get("WORKER_POLL_SECONDS"), "WORKER_POLL_SECONDS", cls.worker_poll_s
            ),
            worker_retry_base_s=_number(
                get("WORKER_RETRY_SECONDS"), "WORKER_RETRY_SECONDS", cls.worker_retry_base_s
            ),
            worker_timeout_s=_number(
                get("WORKER_TIMEOUT_SECONDS"), "WORKER_TIMEOUT_SECONDS", cls.worker_timeout_s
            ),
            worker_concurrency=_integer(
                get("WORKER_CONCURRENCY"), "WORKER_CONCURRENCY", cls.worker_concurrency
            ),
            consistency_wait_s=_number(
                get("CONSISTENCY_WAIT"), "CONSISTENCY_WAIT", cls.consistency_wait_s
            ),
            metrics=_switch(get("METRICS"), "METRICS", cls.metrics),
            tracing=traces_configured(environment),
            media_url=get("MEDIA_URL") or str((root / "var" / "media").resolve()),
            media_max_bytes=_integer(
                get("MEDIA_MAX_BYTES"), "MEDIA_MAX_BYTES", cls.media_max_bytes
            ),
            media_upload_ttl_s=_integer(
                get("MEDIA_UPLOAD_TTL"), "MEDIA_UPLOAD_TTL", cls.media_upload_ttl_s
            ),
            media_presign=_switch(get("MEDIA_PRESIGN"), "MEDIA_PRESIGN", cls.media_presign),
            media_link_s=_integer(
                get("MEDIA_LINK_SECONDS"), "MEDIA_LINK_SECONDS", cls.media_link_s
            ),
            extra={k: v for k, v in values.items() if k.startswith(PREFIX)},
        )

    @property
    def replica_urls(self) -> tuple[str, ...]:
        """The read replicas `read_database_url` lists, comma-separated."""
        return _listed(self.read_database_url)

    def require_authentication(self) -> None:
        """Refuse to serve without a way to check tokens, or with a secret too short to trust."""
        if not (self.jwt_secret or self.jwt_jwks_url):
            raise SettingsError(
                "set FLUVIUS_JWT_SECRET (development, HS256) or FLUVIUS_JWT_JWKS_URL "
                "(production, RS256) so the service can check bearer tokens"
            )
        secret = (self.jwt_secret or "").encode()
        if secret and len(secret) < MIN_SECRET_BYTES:
            raise SettingsError(
                f"FLUVIUS_JWT_SECRET has {len(secret)} bytes: an HS256 secret needs at least "
                f"{MIN_SECRET_BYTES}; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )


def _replicas(urls: str | None, database_url: str) -> str | None:
    """`urls`, when the primary and every replica they list are PostgreSQL."""
    listed = _listed(urls)
    if listed and not all(_scheme(url) == "postgresql" for url in (database_url, *listed)):
        raise SettingsError(
            f"{PREFIX}READ_DATABASE_URL lists read replicas, which need PostgreSQL: set it, and "
            f"{PREFIX}DATABASE_URL, to postgresql:// URLs (or leave it unset)"
        )
    return urls


def _listed(text: str | None) -> tuple[str, ...]:
    """The items of a comma-separated setting."""
    return tuple(item.strip() for item in (text or "").split(",") if item.strip())


def _scheme(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def _integer(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a whole number, not {text!r}") from None
    if value <= 0:
        raise SettingsError(f"{PREFIX}{name} must be positive")
    return value


def _switch(text: str | None, name: str, default: bool) -> bool:
    if text is None:
        return default
    if text not in ("on", "off"):
        raise SettingsError(f"{PREFIX}{name} must be on or off, not {text!r}")
    return text == "on"


def _number(text: str | None, name: str, default: float) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number, not {text!r}") from None
    if not value > 0:
        raise SettingsError(f"{PREFIX}{name} must be positive")
    return value
