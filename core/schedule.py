"""Schedules: what the operator sets (S-1), and when the runs fall (S-2, S-5).

Pure: no I/O, no database, no UI. A `Schedule` is a frozen value that
validates itself on construction (so a stored one is checked when loaded);
`schedule_from_options` builds one from the flags' values (the flags themselves are the
command line's: cli/commands/schedule_args.py); `next_runs` lists the
coming runs for the "Test" preview and the scheduler.

How runs are computed. A schedule compiles to one or more 5-field cron
expressions (`Schedule.cron_expressions`). croniter walks them on *naive local
wall-clock* datetimes, where there is no daylight saving at all, so every
calendar rule (last day of month, weekdays, 31st only in long months) is
exact. Each wall-clock match is then turned into an instant in the
schedule's zone by the rule below, and instants that coincide are merged.

The daylight-saving rule (documented for the operator as well):

* A local time that does not exist, because the clocks jump forward over it
  (02:30 on 2026-03-29 in Europe/Rome, where 02:00 becomes 03:00), runs once
  at the first instant after the jump: 03:00 local time (+02:00). Several
  times inside the same gap, or a gap time and a time at the end of the gap,
  give that one run. This is what classic cron does, keeps runs in order, and
  never runs a job later than a time that does exist after it.
* A local time that occurs twice, because the clocks go back over it (02:30
  on 2026-10-25 in Europe/Rome, where 03:00 becomes 02:00), runs once, at its
  first occurrence (+02:00); nothing runs in the repeated hour.

So a daily schedule keeps its usual number of runs on both transition days,
unless some of its times fall in the skipped hour and share its end.

Runs missed while Sincro was down run once (S-5): `due` says whether at least
one run fell in (last_run, now]; `missed_runs` lists them for the log.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from core.errors import ConfigError

__all__ = [
    "KINDS",
    "SEARCH_YEARS",
    "WEEKDAYS",
    "Schedule",
    "due",
    "iter_runs",
    "missed_runs",
    "next_run",
    "next_runs",
    "schedule_from_options",
]

KINDS = ("off", "daily", "weekly", "monthly", "cron")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# How far ahead a cron expression is searched for its next run before it is
# declared one that never fires (user-typed expressions must not hang).
SEARCH_YEARS = 5
MINUTES_PER_DAY = 24 * 60

_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CRON_DOW = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 0}
_CRON_FIELDS = ("minute", "hour", "day-of-month", "month", "day-of-week")
_CRON_RANGES = ("0-59", "0-23", "1-31 or L", "1-12 or jan-dec", "0-6 or sun-sat")
_CRON_ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# croniter's hashed (H) and random (R) values: not repeatable, so refused.
_CRON_RANDOM = re.compile(r"(^|[,/(-])[hr]($|[,/()-])", re.IGNORECASE)
# Where the "does it ever fire" search starts: a leap year, so 29 February counts.
_PROBE_START = datetime(2024, 1, 1)


# -- small parsers (each raises ConfigError naming the problem and the fix) --


def _parse_time(text: Any) -> int:
    """'08:30' -> minutes since midnight."""
    match = _TIME_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match:
        hours, minutes = int(match[1]), int(match[2])
        if hours < 24 and minutes < 60:
            return hours * 60 + minutes
    raise ConfigError(f"invalid time {text!r}", hint="use HH:MM from 00:00 to 23:59, e.g. 08:30")


def _fmt_time(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _split(value: Any) -> list[Any]:
    """'a, b' or ['a', 'b'] -> ['a', 'b']."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, Iterable):
        return [part.strip() if isinstance(part, str) else part for part in value]
    return [value]


def _parse_times(value: Any, flag: str = "--at") -> tuple[str, ...]:
    items = _split(value)
    if not items or items == [""]:
        raise ConfigError(f"{flag} needs at least one time", hint="e.g. --at 08:00,13:30")
    minutes = sorted({_parse_time(item) for item in items})
    return tuple(_fmt_time(m) for m in minutes)


def _parse_weekdays(value: Any) -> tuple[str, ...]:
    items = _split(value)
    if not items or items == [""]:
        raise ConfigError("--weekly needs at least one weekday", hint="e.g. --weekly mon,thu")
    found = set()
    for item in items:
        key = item.lower() if isinstance(item, str) else item
        if key in WEEKDAYS:
            found.add(key)
        elif key in _FULL_WEEKDAYS:
            found.add(WEEKDAYS[_FULL_WEEKDAYS.index(key)])
        else:
            raise ConfigError(
                f"unknown weekday {item!r}", hint="use mon, tue, wed, thu, fri, sat or sun"
            )
    return tuple(day for day in WEEKDAYS if day in found)


def _parse_days(value: Any) -> tuple[int | str, ...]:
    items = _split(value)
    if not items or items == [""]:
        raise ConfigError("--monthly needs at least one day", hint="e.g. --monthly 1,15,last")
    numbers: set[int] = set()
    last = False
    for item in items:
        if isinstance(item, str) and item.lower() == "last":
            last = True
            continue
        day = item
        if isinstance(item, str) and item.isdigit():
            day = int(item)
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
            raise ConfigError(
                f"invalid day of month {item!r}",
                hint="use 1 to 31, or 'last' for the last day of each month",
            )
        numbers.add(day)
    days: list[int | str] = sorted(numbers)
    if last:
        days.append("last")
    return tuple(days)


def _parse_window(value: Any) -> tuple[str, str]:
    if isinstance(value, str):
        parts = value.split("-")
    elif isinstance(value, Sequence):
        parts = list(value)
    else:
        parts = []
    if len(parts) != 2:
        raise ConfigError(
            f"invalid window {value!r}", hint="use --between HH:MM-HH:MM, e.g. 08:00-20:00"
        )
    start, end = (_parse_time(part) for part in parts)
    return _fmt_time(start), _fmt_time(end)


def _parse_count(value: Any) -> int:
    count = value
    if isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MINUTES_PER_DAY:
        raise ConfigError(
            f"invalid number of daily runs {value!r}",
            hint="--daily takes a whole number from 1 to 1440 (use --off for none)",
        )
    return count


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _check_zone(name: Any) -> str:
    if isinstance(name, str) and name.strip():
        try:
            _zone(name.strip())
            return name.strip()
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ConfigError(
        f"unknown time zone {name!r}", hint="use an IANA zone name, e.g. Europe/Rome or UTC"
    )


_ONE_VALUE_RANGE = re.compile(r"(\w+)-(\w+)(/\d+)?")


def _collapse_ranges(field: str) -> str:
    """'3-3' -> '3': croniter 7 reads a one-value range as the whole field."""
    parts = []
    for part in field.split(","):
        match = _ONE_VALUE_RANGE.fullmatch(part)
        if match and _same_value(match[1], match[2]):
            part = match[1]
        parts.append(part)
    return ",".join(parts)


def _same_value(a: str, b: str) -> bool:
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a.lower() == b.lower()


def _check_cron(expr: Any) -> str:
    """Validate a user-typed 5-field cron expression; return it normalised."""
    if not isinstance(expr, str) or not expr.strip():
        raise ConfigError(
            "empty cron expression",
            hint="give 5 fields: minute hour day-of-month month day-of-week, e.g. '0 8 * * mon-fri'",
        )
    text = " ".join(expr.split())
    text = _CRON_ALIASES.get(text.lower(), text)
    fields = text.split(" ")
    if len(fields) != 5:
        raise ConfigError(
            f"cron expression {expr!r} has {len(fields)} fields, not 5",
            hint="give minute hour day-of-month month day-of-week, e.g. '0 8 * * mon-fri'",
        )
    fields = [_collapse_ranges(value) for value in fields]
    text = " ".join(fields)
    for index, value in enumerate(fields):
        if _CRON_RANDOM.search(value):
            raise ConfigError(
                f"cron expression {expr!r} uses a hashed or random value ({value!r})",
                hint="write the exact minute, hour or day instead",
            )
        probe = ["*"] * 5
        probe[index] = value
        if not croniter.is_valid(" ".join(probe)):
            raise ConfigError(
                f"invalid {_CRON_FIELDS[index]} field {value!r} in cron expression {expr!r}",
                hint=f"the {_CRON_FIELDS[index]} takes {_CRON_RANGES[index]}, lists (a,b), ranges (a-b) and steps (*/n)",
            )
    if not croniter.is_valid(text):
        raise ConfigError(
            f"invalid cron expression {expr!r}",
            hint="give minute hour day-of-month month day-of-week, e.g. '0 8 * * mon-fri'",
        )
    try:
        croniter(text, _PROBE_START, max_years_between_matches=SEARCH_YEARS).get_next(datetime)
    except (CroniterBadDateError, CroniterError):
        if not croniter.is_valid(text, strict=True):
            hint = f"{_impossible_days(text)}; pick days that exist, or L for the last day"
        else:
            hint = f"it has no run within {SEARCH_YEARS} years; check the day and month fields"
        raise ConfigError(f"cron expression {expr!r} never fires", hint=hint) from None
    return text


_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _impossible_days(text: str) -> str:
    """'day 30 never occurs in February', for an expression strict croniter refuses."""
    try:
        expanded, _nth = croniter.expand(text)
        days = [d for d in expanded[2] if isinstance(d, int)]
        months = [_MONTHS[m - 1] for m in expanded[3] if isinstance(m, int)]
    except CroniterError:  # pragma: no cover - validated before
        days, months = [], []
    if not days or not months:  # pragma: no cover
        return "its days never occur in the months it names"
    label = "day" if len(days) == 1 else "days"
    verb = "occurs" if len(days) == 1 else "occur"
    return f"{label} {_join([str(d) for d in days])} never {verb} in {_join(months).replace(' and ', ' or ')}"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# -- the schedule value --


@dataclass(frozen=True)
class Schedule:
    """One account's schedule; invalid values raise ConfigError on construction.

    kind    off | daily | weekly | monthly | cron
    tz      IANA zone the times are read in
    times, between   daily: N runs evenly spread from start to end ("HH:MM")
    at      daily, weekly, monthly: listed local times ("HH:MM"), sorted
    weekdays  weekly: mon..sun
    days    monthly: 1..31 and "last"
    cron    cron: a 5-field expression
    """

    kind: str
    tz: str = "UTC"
    times: int | None = None
    between: tuple[str, str] | None = None
    at: tuple[str, ...] = ()
    weekdays: tuple[str, ...] = ()
    days: tuple[int | str, ...] = ()
    cron: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(
                f"unknown schedule kind {self.kind!r}",
                hint="use off, daily, weekly, monthly or cron",
            )
        set_ = object.__setattr__
        set_(self, "tz", _check_zone(self.tz))
        used = {"tz"}
        if self.kind == "daily" and self.times is not None:
            set_(self, "times", _parse_count(self.times))
            if self.between is None:
                raise ConfigError(
                    f"daily runs ({self.times} times) need a window",
                    hint="add --between HH:MM-HH:MM, e.g. --between 08:00-20:00",
                )
            window = _parse_window(self.between)
            set_(self, "between", window)
            _check_spread(self.times, *window)
            used |= {"times", "between"}
        elif self.kind in ("daily", "weekly", "monthly"):
            if not self.at:
                flag = {"daily": "--daily N --between HH:MM-HH:MM or --at"}.get(self.kind, "--at")
                raise ConfigError(
                    f"a {self.kind} schedule needs the times it runs at",
                    hint=f"add {flag} HH:MM[,HH:MM...]",
                )
            set_(self, "at", _parse_times(self.at))
            used.add("at")
        if self.kind == "weekly":
            set_(self, "weekdays", _parse_weekdays(self.weekdays))
            used.add("weekdays")
        if self.kind == "monthly":
            set_(self, "days", _parse_days(self.days))
            used.add("days")
        if self.kind == "cron":
            set_(self, "cron", _check_cron(self.cron))
            used.add("cron")
        for name in ("times", "between", "at", "weekdays", "days", "cron"):
            if name not in used and getattr(self, name) not in (None, (), [], ""):
                article = "an" if self.kind == "off" else "a"
                raise ConfigError(
                    f"{article} {self.kind} schedule takes no {name!r}",
                    hint=f"drop {name!r} or change the schedule kind",
                )

    @classmethod
    def parse(cls, kind: str, *, tz: str, **typed: Any) -> Schedule:
        """A schedule from fields as a person typed them (``times="4"``,
        ``between="08:00-20:00"``, ``weekdays="mon,thu"``, ``at="08:00,13:30"``,
        ``days="1,last"``): ``__post_init__`` parses and checks each of them."""
        return cls(kind, tz=tz, **typed)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.tz)

    def run_times(self) -> tuple[str, ...]:
        """The local times of day it runs at ('HH:MM'); empty for off and cron."""
        if self.kind == "daily" and self.times is not None:
            assert self.between is not None
            start, end = (_parse_time(t) for t in self.between)
            return tuple(_fmt_time(m) for m in _spread(self.times, start, end))
        return self.at

    def cron_expressions(self) -> list[str]:
        """5-field cron expressions in local wall-clock time; together they fire
        exactly when this schedule does (several when times differ in minutes)."""
        if self.kind == "off":
            return []
        if self.kind == "cron":
            assert self.cron is not None
            return [self.cron]
        dom, dow = "*", "*"
        if self.kind == "weekly":
            dow = ",".join(str(n) for n in sorted(_CRON_DOW[d] for d in self.weekdays))
        elif self.kind == "monthly":
            dom = ",".join("L" if d == "last" else str(d) for d in self.days)
        by_minute: dict[int, list[int]] = {}
        for minutes in (_parse_time(t) for t in self.run_times()):
            by_minute.setdefault(minutes % 60, []).append(minutes // 60)
        by_hours: dict[tuple[int, ...], list[int]] = {}
        for minute, hours in sorted(by_minute.items()):
            by_hours.setdefault(tuple(sorted(hours)), []).append(minute)
        return [
            f"{','.join(map(str, minutes))} {','.join(map(str, hours))} {dom} * {dow}"
            for hours, minutes in by_hours.items()
        ]

    def describe(self) -> str:
        """One line for people, e.g. 'daily, 4 times between 08:00 and 20:00 (Europe/Rome)'."""
        zone = f"({self.tz})"
        if self.kind == "off":
            return "off: no scheduled runs"
        if self.kind == "cron":
            return f"cron '{self.cron}' {zone}"
        if self.kind == "daily" and self.times is not None:
            assert self.between is not None
            count = "1 time" if self.times == 1 else f"{self.times} times"
            return f"daily, {count} between {self.between[0]} and {self.between[1]} {zone}"
        at = f"at {_join(self.at)}"
        if self.kind == "daily":
            return f"daily {at} {zone}"
        if self.kind == "weekly":
            return f"weekly on {_join([d.capitalize() for d in self.weekdays])} {at} {zone}"
        words = ["the last day" if d == "last" else str(d) for d in self.days]
        label = "day" if len(words) == 1 and self.days != ("last",) else "days"
        label = "" if self.days == ("last",) else label + " "
        text = f"monthly on {label}{_join(words)} {at} {zone}"
        long_days = [d for d in self.days if isinstance(d, int) and d > 28]
        if long_days:
            text += f"; day {_join([str(d) for d in long_days])} only in months that have it"
        return text

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form for storage; `from_dict` reads it back."""
        data: dict[str, Any] = {"kind": self.kind, "tz": self.tz}
        if self.times is not None:
            data["times"] = self.times
            data["between"] = list(self.between or ())
        if self.at:
            data["at"] = list(self.at)
        if self.weekdays:
            data["weekdays"] = list(self.weekdays)
        if self.days:
            data["days"] = list(self.days)
        if self.cron is not None:
            data["cron"] = self.cron
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schedule:
        if not isinstance(data, Mapping) or "kind" not in data:
            raise ConfigError(
                "stored schedule is not a schedule (no 'kind')",
                hint="set the schedule again, e.g. --daily 4 --between 08:00-20:00",
            )
        fields = {"kind", "tz", "times", "between", "at", "weekdays", "days", "cron"}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise ConfigError(
                f"stored schedule has unknown field {unknown[0]!r}",
                hint="set the schedule again, or upgrade Sincro if it was saved by a newer version",
            )
        args = dict(data)
        for name in ("between", "at", "weekdays", "days"):
            if isinstance(args.get(name), list):
                args[name] = tuple(args[name])
        if "tz" not in args:
            raise ConfigError(
                "stored schedule has no time zone", hint="set it again with --tz ZONE"
            )
        return cls(**args)


def _spread(count: int, start: int, end: int) -> list[int]:
    if count == 1:
        return [start]
    return [start + (i * (end - start)) // (count - 1) for i in range(count)]


def _check_spread(count: int, start_text: str, end_text: str) -> None:
    start, end = _parse_time(start_text), _parse_time(end_text)
    window = f"{start_text}-{end_text}"
    if end < start:
        raise ConfigError(
            f"window {window} ends before it starts",
            hint="a window lies within one day; list runs around midnight with --at instead",
        )
    if count > 1 and end == start:
        raise ConfigError(
            f"window {window} is empty and cannot hold {count} runs",
            hint="widen --between, or use --daily 1",
        )
    if count > 1 and end - start < count - 1:
        raise ConfigError(
            f"window {window} is too short for {count} runs",
            hint=f"runs are at least a minute apart: {count} runs need a window of at least {count - 1} minutes",
        )


# -- from the CLI --


def schedule_from_options(
    daily: int | str | None = None,
    between: str | Sequence[str] | None = None,
    at: str | Sequence[str] | None = None,
    weekly: str | Sequence[str] | None = None,
    monthly: str | Sequence[int | str] | None = None,
    cron: str | None = None,
    off: bool = False,
    tz: str | None = None,
) -> Schedule:
    """Build a Schedule from the CLI flags (`--daily N --between A-B`, `--at`,
    `--weekly`, `--monthly`, `--cron`, `--off`, `--tz`)."""
    given = {
        "--daily": daily is not None,
        "--between": between is not None,
        "--at": at is not None,
        "--weekly": weekly is not None,
        "--monthly": monthly is not None,
        "--cron": cron is not None,
    }
    flags = [flag for flag, present in given.items() if present]
    if off:
        if flags:
            raise ConfigError(
                f"--off cannot be combined with {_join(flags)}",
                hint="use --off alone to stop scheduled runs",
            )
        return Schedule("off", tz=tz if tz is not None else "UTC")
    if not flags:
        raise ConfigError(
            "no schedule given",
            hint="use --daily N --between HH:MM-HH:MM, --at HH:MM (with --weekly or --monthly), --cron EXPR or --off",
        )
    if tz is None:
        raise ConfigError("no time zone given", hint="add --tz ZONE, e.g. --tz Europe/Rome")
    if cron is not None:
        others = [f for f in flags if f != "--cron"]
        if others:
            raise ConfigError(
                f"--cron cannot be combined with {_join(others)}",
                hint="a cron expression is the whole schedule: give --cron alone (with --tz)",
            )
        return Schedule("cron", tz=tz, cron=cron)
    if weekly is not None and monthly is not None:
        raise ConfigError(
            "--weekly and --monthly cannot be combined",
            hint="pick one, or write a --cron expression",
        )
    if daily is not None:
        others = [f for f in flags if f not in ("--daily", "--between")]
        if others:
            raise ConfigError(
                f"--daily cannot be combined with {_join(others)}",
                hint="--daily N spreads N runs over --between; to list times use --at alone",
            )
        if between is None:
            raise ConfigError(
                f"--daily {daily} needs a window",
                hint="add --between HH:MM-HH:MM, e.g. --between 08:00-20:00",
            )
        return Schedule.parse("daily", tz=tz, times=daily, between=between)
    if between is not None:
        raise ConfigError(
            "--between is only for --daily N",
            hint="e.g. --daily 4 --between 08:00-20:00",
        )
    if at is None:
        flag = "--weekly" if weekly is not None else "--monthly"
        raise ConfigError(f"{flag} needs the times to run at", hint="add --at HH:MM[,HH:MM...]")
    at = _parse_times(at)
    if weekly is not None:
        return Schedule.parse("weekly", tz=tz, weekdays=weekly, at=at)
    if monthly is not None:
        return Schedule.parse("monthly", tz=tz, days=monthly, at=at)
    return Schedule("daily", tz=tz, at=at)


# -- next runs --


def _walls(expressions: Sequence[str], after: datetime) -> Iterator[datetime]:
    """Naive local wall-clock matches strictly after `after`, merged, in order."""

    def one(expr: str) -> Iterator[datetime]:
        it = croniter(expr, after, max_years_between_matches=SEARCH_YEARS)
        while True:
            try:
                yield it.get_next(datetime)
            except (CroniterBadDateError, OverflowError, ValueError):
                return

    return heapq.merge(*(one(expr) for expr in expressions))


def _localize(wall: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time as an instant, by the module's DST rule."""
    first = wall.replace(tzinfo=zone, fold=0)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall:
        return first  # exists; when it occurs twice, fold=0 is the first occurrence
    # In a gap: fold=0 reads it with the offset before the jump, fold=1 after;
    # the jump lies between those two readings. Find its first second.
    lo = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    hi = int(first.timestamp())
    before = datetime.fromtimestamp(lo, zone).utcoffset()
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return datetime.fromtimestamp(hi, zone)


def _require_aware(value: datetime, name: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


def iter_runs(schedule: Schedule, start: datetime) -> Iterator[datetime]:
    """Runs strictly after `start` (aware), in the schedule's zone, for ever."""
    _require_aware(start, "start")
    if schedule.kind == "off":
        return
    zone = schedule.zone
    last = start.astimezone(UTC)
    # Wall-clock matches at or before start's wall clock are at or before start
    # (the wall -> instant map never goes backwards), so start the walk there.
    wall = start.astimezone(zone).replace(tzinfo=None, fold=0)
    for match in _walls(schedule.cron_expressions(), wall):
        run = _localize(match, zone)
        instant = run.astimezone(UTC)
        if instant > last:  # compare in UTC: same-zone comparison ignores fold
            last = instant
            yield run


def next_runs(schedule: Schedule, start: datetime, n: int = 10) -> list[datetime]:
    """The next `n` runs strictly after `start` (S-2's preview uses n=10)."""
    if n <= 0:
        return []
    return list(islice(iter_runs(schedule, start), n))


def next_run(schedule: Schedule, after: datetime) -> datetime | None:
    """The first run strictly after `after`; None when the schedule is off."""
    return next(iter_runs(schedule, after), None)


def due(schedule: Schedule, last_run: datetime, now: datetime) -> bool:
    """True when at least one run fell in (last_run, now]: run once now (S-5),
    however many were missed, then count from now."""
    _require_aware(now, "now")
    run = next_run(schedule, last_run)
    return run is not None and run.astimezone(UTC) <= now.astimezone(UTC)


def missed_runs(
    schedule: Schedule, last_run: datetime, now: datetime, limit: int = 100
) -> list[datetime]:
    """The runs in (last_run, now], at most `limit` of them (for the log line
    that says how many were folded into the one catch-up run)."""
    _require_aware(now, "now")
    cutoff = now.astimezone(UTC)
    runs: list[datetime] = []
    for run in iter_runs(schedule, last_run):
        if run.astimezone(UTC) > cutoff or len(runs) >= limit:
            break
        runs.append(run)
    return runs
