from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from newspeech.configuration.values import ConfigDefault, parse_value, render_value
from newspeech.kit.upsert import insert_if_absent
from newspeech.models import ConfigEntry, ConfigValueType


class ConfigurationRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def get_entry(self, key: str) -> ConfigEntry | None:
        query = select(ConfigEntry).where(ConfigEntry.config_key == key)
        return (await self.db.scalars(query)).one_or_none()

    async def get(self, key: str, default: Any = None) -> Any:
        """The typed value of an active key, or ``default`` when absent or inactive."""
        entry = await self.get_entry(key)
        if entry is None or not entry.is_active:
            return default
        return parse_value(key, entry.config_value, entry.value_type)

    async def values(self) -> dict[str, Any]:
        """Every active key with its typed value."""
        return {
            entry.config_key: parse_value(entry.config_key, entry.config_value, entry.value_type)
            for entry in await self.list(active_only=True)
        }

    async def list(self, *, active_only: bool = False) -> list[ConfigEntry]:
        query = select(ConfigEntry).order_by(ConfigEntry.config_key)
        if active_only:
            query = query.where(ConfigEntry.is_active.is_(True))
        return list(await self.db.scalars(query))

    async def set(
        self,
        key: str,
        value: Any,
        *,
        value_type: ConfigValueType | None = None,
        description: str | None = None,
    ) -> ConfigEntry:
        """Create or change a key. An existing key keeps its type unless one is given."""
        entry = await self.get_entry(key)
        if entry is None:
            kind = value_type or ConfigValueType.STRING
            entry = ConfigEntry(
                config_key=key,
                config_value=render_value(key, value, kind),
                value_type=kind,
                description=description,
            )
            self.db.add(entry)
        else:
            kind = value_type or entry.value_type
            entry.config_value = render_value(key, value, kind)
            entry.value_type = kind
            if description is not None:
                entry.description = description
        await self.db.flush()
        return entry

    async def insert_defaults(self, defaults: Iterable[ConfigDefault]) -> None:
        """Store each key not stored yet with its default (concurrency-safe, one statement);
        a key already stored keeps its value."""
        rows = []
        for default in defaults:
            parse_value(default.key, default.value, default.value_type)
            rows.append(
                {
                    "config_key": default.key,
                    "config_value": default.value,
                    "value_type": default.value_type,
                    "description": default.description,
                    "is_active": True,
                }
            )
        await insert_if_absent(self.db, ConfigEntry.__table__, rows, key="config_key")  # type: ignore[arg-type]

    async def get_or_create(
        self, key: str, raw_value: str, value_type: ConfigValueType, description: str | None = None
    ) -> ConfigEntry:
        """Insert the key if absent (concurrency-safe) and return the stored entry."""
        parse_value(key, raw_value, value_type)
        values = {
            "config_key": key,
            "config_value": raw_value,
            "value_type": value_type,
            "description": description,
            "is_active": True,
        }
        await insert_if_absent(self.db, ConfigEntry.__table__, values, key="config_key")  # type: ignore[arg-type]
        entry = await self.get_entry(key)
        assert entry is not None  # inserted above or already present
        return entry
