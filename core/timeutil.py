"""Time helpers: UTC storage, IANA zones."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.errors import ConfigError


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``, or a ConfigError that says how to fix it."""
    try:
        if not name or name != name.strip() or name.startswith("/") or ".." in name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"unknown time zone {name!r}",
            hint="use an IANA name such as Europe/Rome or UTC",
        ) from None


def machine_zone() -> str:
    """The machine's IANA zone name, UTC when it cannot be told."""
    candidates: list[str] = []
    if tz := os.environ.get("TZ", "").lstrip(":"):
        candidates.append(tz)
    try:
        candidates.append(Path("/etc/timezone").read_text().strip())
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        try:
            zone(name)
            return name
        except ConfigError:
            continue
    return "UTC"


class ScaledClock:
    """UTC time running ``speed`` times faster than the wall clock from ``epoch`` (a
    Unix time): schedules compressed in time, for tests and benches (docs/HUB.md,
    "Capacity"). Processes given the same epoch and speed read the same time."""

    def __init__(self, speed: float, epoch: float) -> None:
        self.speed = speed
        self.epoch = epoch

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.epoch + (time.time() - self.epoch) * self.speed, UTC)


def schedule_clock() -> Callable[[], datetime]:
    """The clock schedules fire by: the real one, or with ``SINCRO_TIME_SPEED=N`` a clock N
    times faster from ``SINCRO_TIME_EPOCH`` (a Unix time; default: now)."""
    raw = os.environ.get("SINCRO_TIME_SPEED", "").strip()
    if not raw:
        return utcnow
    try:
        speed = float(raw)
        epoch = float(os.environ.get("SINCRO_TIME_EPOCH") or time.time())
    except ValueError:
        raise ConfigError(f"SINCRO_TIME_SPEED and SINCRO_TIME_EPOCH must be numbers, not {raw!r}",
                          hint="unset SINCRO_TIME_SPEED to run schedules in real time") from None
    if not 0 < speed <= 10_000:
        raise ConfigError(f"SINCRO_TIME_SPEED must be between 0 and 10000, not {raw}",
                          hint="unset it to run schedules in real time")
    return ScaledClock(speed, epoch)
