"""Settings from the environment or ``.env`` (prefix ``MOVIEBOT_``).

Built once, in the composition root (:mod:`bot.cli`), never at import time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.movielens import DEFAULT_RELEASE, RELEASES, DataPaths


class Settings(BaseSettings):
    """Everything the bot and the ``moviebot`` commands can be configured with."""

    model_config = SettingsConfigDict(env_prefix="MOVIEBOT_", env_file=".env", extra="ignore")

    telegram_token: SecretStr | None = Field(default=None, description="Bot token from @BotFather")
    telegram_api_url: str = Field(
        default="https://api.telegram.org/bot",
        description="Bot API base URL; the token is appended (or replaces {token})",
    )
    database_url: SecretStr | None = Field(
        default=None,
        description="SQLAlchemy async URL (may hold a password: secret, never logged); "
        "default: an SQLite file in the data folder",
    )
    data_dir: Path = Field(default=Path("data"), description="Downloads, models and the database")
    movielens_dir: Path | None = Field(
        default=None, description="Folder of extracted MovieLens releases; set = never download"
    )
    movielens_url: str = Field(
        default="https://files.grouplens.org/datasets/movielens",
        description="Where releases are downloaded from",
    )
    dataset: str = Field(default=DEFAULT_RELEASE, description=f"One of {', '.join(RELEASES)}")
    model_path: Path | None = Field(
        default=None, description="Model artifact; default: DATA_DIR/models/DATASET"
    )
    webhook_url: str | None = Field(default=None, description="Public HTTPS URL: webhook mode")
    webhook_port: int = Field(default=8443, description="Port the webhook server listens on")
    webhook_listen: str = Field(
        default="127.0.0.1",
        description="Address the webhook server listens on; loopback by default: the plain-HTTP "
        "server belongs behind the TLS proxy on the same host (the Docker image sets 0.0.0.0)",
    )
    webhook_secret_token: SecretStr | None = Field(
        default=None,
        description="Telegram's X-Telegram-Bot-Api-Secret-Token for the webhook (1-256 of "
        "A-Z a-z 0-9 _ -); generated at start when unset (set it for several replicas)",
    )
    log_update_contents: bool = Field(
        default=False,
        description="Let DEBUG logs show update contents (users' names and texts): off by default",
    )
    database_wait_seconds: float = Field(
        default=60.0, ge=0, description="How long start-up waits for an unreachable database"
    )
    favorites_limit: int = Field(default=500, ge=1, description="Most favorites a chat may keep")
    flood_commands: int = Field(
        default=20, ge=1, description="Per-chat flood limit: commands allowed per flood window"
    )
    flood_seconds: float = Field(
        default=10.0, gt=0, description="Per-chat flood limit: the window, in seconds"
    )
    telegram_max_rate: float = Field(
        default=30.0, ge=0, description="Messages per second to Telegram overall (0: no limit)"
    )
    telegram_group_rate: float = Field(
        default=20.0, ge=0, description="Messages per minute to one group (0: no limit)"
    )
    polling_timeout: int = Field(
        default=10, ge=0, le=50, description="Long-polling timeout of getUpdates, in seconds"
    )
    console_chat_id: int = Field(
        default=0, description="The chat id whose favorites `moviebot console` uses"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")

    @property
    def paths(self) -> DataPaths:
        """Where ``recsys`` reads releases from and writes downloads and models to."""
        return DataPaths(
            data_dir=self.data_dir, movielens_dir=self.movielens_dir, base_url=self.movielens_url
        )

    @property
    def bot_token(self) -> str:
        """The bot token as the bot uses it: stripped of surrounding whitespace ("" when unset)."""
        return self.telegram_token.get_secret_value().strip() if self.telegram_token else ""

    @property
    def secret_values(self) -> list[str]:
        """Every configured secret as it was given (the log redactor derives all its forms).

        The database password is given as it sits in a URL (``:password@``), so a short
        password does not blank out every occurrence of its letters in the logs.
        """
        from sqlalchemy.engine import make_url

        values = [
            s.get_secret_value()
            for s in (self.telegram_token, self.webhook_secret_token)
            if s is not None
        ]
        try:
            password = make_url(self.resolved_database_url).password
        except Exception:  # a malformed URL: reported when the store opens
            password = None
        if password:
            values.append(f":{password}@")
        return values

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data folder."""
        if self.database_url and self.database_url.get_secret_value():
            return self.database_url.get_secret_value()
        return f"sqlite+aiosqlite:///{(self.data_dir / 'moviebot.sqlite3').resolve()}"

    @property
    def resolved_model_path(self) -> Path:
        """The model artifact path, defaulting to ``DATA_DIR/models/DATASET``."""
        return self.model_path or self.data_dir / "models" / self.dataset
