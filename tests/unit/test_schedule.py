"""core.schedule: the schedule model, its errors, and next-run maths across DST.

The property tests compare `next_runs` with a brute-force oracle written here
independently of croniter: walk local dates, match the schedule's fields,
turn each wall-clock time into an instant by the documented DST rule (a time
in a gap runs at the first existing minute after it; a repeated time runs at
its first occurrence), merge equal instants.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli.commands.schedule_args import parse_cli
from core.errors import ConfigError
from core.schedule import (
    WEEKDAYS,
    Schedule,
    due,
    missed_runs,
    next_run,
    next_runs,
    schedule_from_options,
)

ROME = ZoneInfo("Europe/Rome")
PROPS = settings(
    max_examples=120,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def text(exc) -> str:
    """The error as one line, whatever separator SincroError puts before the hint."""
    assert "\n" not in str(exc) and exc.message in str(exc) and (exc.hint or "") in str(exc)
    return f"{exc.message}; {exc.hint}" if exc.hint else exc.message


def rome(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=ROME, fold=fold)


def iso(runs: list[datetime]) -> list[str]:
    return [r.isoformat() for r in runs]


# -- the acceptance case and explicit Europe/Rome transitions --


def test_acceptance_daily_four_times_across_spring_forward():
    schedule = schedule_from_options(daily=4, between="08:00-20:00", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 3, 28, 10, 0), 10)
    assert iso(runs) == [
        "2026-03-28T12:00:00+01:00",
        "2026-03-28T16:00:00+01:00",
        "2026-03-28T20:00:00+01:00",
        "2026-03-29T08:00:00+02:00",
        "2026-03-29T12:00:00+02:00",
        "2026-03-29T16:00:00+02:00",
        "2026-03-29T20:00:00+02:00",
        "2026-03-30T08:00:00+02:00",
        "2026-03-30T12:00:00+02:00",
        "2026-03-30T16:00:00+02:00",
    ]
    assert all(r.tzinfo == ROME for r in runs)
    assert schedule.describe() == "daily, 4 times between 08:00 and 20:00 (Europe/Rome)"


def test_time_inside_spring_gap_runs_once_at_end_of_gap():
    schedule = schedule_from_options(at="02:30", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 3, 27, 12, 0), 4)
    assert iso(runs) == [
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_times_in_gap_and_at_its_end_merge_into_one_run():
    schedule = schedule_from_options(at="02:00,02:30,03:00", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 3, 29, 0, 0), 4)
    assert iso(runs) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-30T03:00:00+02:00",
    ]


def test_times_around_spring_gap_are_untouched():
    schedule = schedule_from_options(at="01:59,03:00,03:30", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 3, 29, 0, 0), 3)
    assert iso(runs) == [
        "2026-03-29T01:59:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
    ]


def test_repeated_time_on_fall_back_runs_once_at_first_occurrence():
    schedule = schedule_from_options(at="02:00,02:30,03:00", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 10, 25, 0, 0), 5)
    assert iso(runs) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-26T02:00:00+01:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_start_inside_repeated_hour():
    schedule = schedule_from_options(at="02:30", tz="Europe/Rome")
    # 02:10 the second time (+01:00): today's 02:30 already ran at +02:00.
    assert next_run(schedule, rome(2026, 10, 25, 2, 10, fold=1)).isoformat() == (
        "2026-10-26T02:30:00+01:00"
    )
    # 02:10 the first time (+02:00): 02:30 is still ahead.
    assert next_run(schedule, rome(2026, 10, 25, 2, 10, fold=0)).isoformat() == (
        "2026-10-25T02:30:00+02:00"
    )


def test_times_outside_overlap_keep_their_offsets():
    schedule = schedule_from_options(at="01:30,04:00", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 10, 25, 0, 0), 2)
    assert iso(runs) == ["2026-10-25T01:30:00+02:00", "2026-10-25T04:00:00+01:00"]


def test_every_fifteen_minutes_on_transition_days_neither_loses_nor_doubles():
    schedule = schedule_from_options(cron="*/15 * * * *", tz="Europe/Rome")
    spring = next_runs(schedule, rome(2026, 3, 28, 23, 59), 92)
    assert spring[0].isoformat() == "2026-03-29T00:00:00+01:00"
    assert spring[-1].isoformat() == "2026-03-29T23:45:00+02:00"
    assert [r.isoformat() for r in spring[7:9]] == [
        "2026-03-29T01:45:00+01:00",
        "2026-03-29T03:00:00+02:00",
    ]
    fall = next_runs(schedule, rome(2026, 10, 24, 23, 59), 96)
    assert fall[-1].isoformat() == "2026-10-25T23:45:00+01:00"
    walls = [r.strftime("%H:%M") for r in fall]
    assert len(set(walls)) == 96  # every wall-clock quarter once, none twice
    assert [r.isoformat() for r in fall[11:13]] == [
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T03:00:00+01:00",
    ]


def test_cron_is_read_in_the_schedule_zone():
    schedule = schedule_from_options(cron="0 9 * * 1-5", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 3, 27, 0, 0), 2)
    assert iso(runs) == ["2026-03-27T09:00:00+01:00", "2026-03-30T09:00:00+02:00"]


def test_start_in_another_zone_and_results_in_schedule_zone():
    schedule = schedule_from_options(at="08:00", tz="Europe/Rome")
    run = next_run(schedule, datetime(2026, 3, 29, 5, 59, tzinfo=UTC))
    assert run.isoformat() == "2026-03-29T08:00:00+02:00"
    assert next_run(schedule, datetime(2026, 3, 29, 6, 0, tzinfo=UTC)).day == 30


def test_start_exactly_on_a_run_excludes_it():
    schedule = schedule_from_options(at="08:00", tz="Europe/Rome")
    assert next_run(schedule, rome(2026, 5, 1, 8, 0)) == rome(2026, 5, 2, 8, 0)


def test_weekly():
    schedule = schedule_from_options(weekly="mon,thu", at="08:00,18:30", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2026, 3, 26, 9, 0), 5)  # a Thursday
    assert iso(runs) == [
        "2026-03-26T18:30:00+01:00",
        "2026-03-30T08:00:00+02:00",
        "2026-03-30T18:30:00+02:00",
        "2026-04-02T08:00:00+02:00",
        "2026-04-02T18:30:00+02:00",
    ]
    assert schedule.describe() == "weekly on Mon and Thu at 08:00 and 18:30 (Europe/Rome)"
    assert schedule.cron_expressions() == ["0 8 * * 1,4", "30 18 * * 1,4"]


def test_weekly_sunday_and_full_names():
    schedule = schedule_from_options(weekly="Sunday,SAT", at="10:00", tz="UTC")
    assert schedule.weekdays == ("sat", "sun")
    runs = next_runs(schedule, datetime(2026, 1, 1, tzinfo=UTC), 4)
    assert [r.strftime("%a %d") for r in runs] == ["Sat 03", "Sun 04", "Sat 10", "Sun 11"]


def test_monthly_last_day_covers_28_29_30_31():
    schedule = schedule_from_options(monthly="last", at="23:00", tz="Europe/Rome")
    runs = next_runs(schedule, rome(2027, 12, 1), 6)
    assert [r.date().isoformat() for r in runs] == [
        "2027-12-31",
        "2028-01-31",
        "2028-02-29",
        "2028-03-31",
        "2028-04-30",
        "2028-05-31",
    ]
    feb = next_runs(schedule, rome(2027, 2, 1), 1)[0]
    assert feb.date().isoformat() == "2027-02-28"
    assert schedule.describe() == "monthly on the last day at 23:00 (Europe/Rome)"


def test_monthly_31_skips_short_months_and_merges_with_last():
    schedule = schedule_from_options(monthly="31,last,1", at="08:00", tz="Europe/Rome")
    assert schedule.days == (1, 31, "last")
    runs = next_runs(schedule, rome(2026, 1, 2), 5)
    assert [r.date().isoformat() for r in runs] == [
        "2026-01-31",
        "2026-02-01",
        "2026-02-28",
        "2026-03-01",
        "2026-03-31",
    ]
    only31 = schedule_from_options(monthly="31", at="08:00", tz="UTC")
    assert [r.month for r in next_runs(only31, datetime(2026, 1, 1, tzinfo=UTC), 7)] == [
        1,
        3,
        5,
        7,
        8,
        10,
        12,
    ]
    assert only31.describe() == (
        "monthly on day 31 at 08:00 (UTC); day 31 only in months that have it"
    )


def test_monthly_describe_several_days():
    schedule = schedule_from_options(monthly="1,15,last", at="06:00", tz="UTC")
    assert schedule.describe() == "monthly on days 1, 15 and the last day at 06:00 (UTC)"
    assert schedule.cron_expressions() == ["0 6 1,15,L * *"]


def test_daily_spread():
    def times(n, window):
        return schedule_from_options(daily=n, between=window, tz="UTC").run_times()

    assert times(4, "08:00-20:00") == ("08:00", "12:00", "16:00", "20:00")
    assert times(1, "08:00-20:00") == ("08:00",)
    assert times(1, "08:00-08:00") == ("08:00",)
    assert times(3, "08:00-09:01") == ("08:00", "08:30", "09:01")
    assert times(3, "08:00-08:02") == ("08:00", "08:01", "08:02")
    assert len(times(1440, "00:00-23:59")) == 1440


def test_cron_compilation_groups_by_minute():
    schedule = schedule_from_options(at="08:00,08:30,12:00,12:30,13:15", tz="UTC")
    assert schedule.cron_expressions() == ["0,30 8,12 * * *", "15 13 * * *"]


def test_off_schedule():
    schedule = schedule_from_options(off=True)
    assert schedule.kind == "off"
    assert next_runs(schedule, rome(2026, 1, 1), 10) == []
    assert next_run(schedule, rome(2026, 1, 1)) is None
    assert not due(schedule, rome(2026, 1, 1), rome(2030, 1, 1))
    assert schedule.describe() == "off: no scheduled runs"
    assert schedule.cron_expressions() == []


def test_n_zero_and_naive_start():
    schedule = schedule_from_options(at="08:00", tz="UTC")
    assert next_runs(schedule, datetime(2026, 1, 1, tzinfo=UTC), 0) == []
    with pytest.raises(ValueError, match="timezone-aware"):
        next_runs(schedule, datetime(2026, 1, 1), 1)


def test_describe_daily_at_and_cron():
    assert schedule_from_options(at="13:30,08:00", tz="Europe/Rome").describe() == (
        "daily at 08:00 and 13:30 (Europe/Rome)"
    )
    assert schedule_from_options(daily=1, between="07:00-09:00", tz="UTC").describe() == (
        "daily, 1 time between 07:00 and 09:00 (UTC)"
    )
    assert schedule_from_options(cron="0  8 * *  1-5", tz="UTC").describe() == (
        "cron '0 8 * * 1-5' (UTC)"
    )
    assert schedule_from_options(cron="@daily", tz="UTC").cron == "0 0 * * *"


# -- missed runs (S-5) --


def test_missed_runs_happen_once():
    schedule = schedule_from_options(daily=4, between="08:00-20:00", tz="Europe/Rome")
    last = rome(2026, 3, 27, 20, 0)
    now = rome(2026, 3, 30, 9, 0)
    assert due(schedule, last, now)
    missed = missed_runs(schedule, last, now)
    assert len(missed) == 9  # Sat 4, Sun 4, Mon 08:00
    assert missed[-1] == rome(2026, 3, 30, 8, 0)
    assert len(missed_runs(schedule, last, now, limit=3)) == 3
    # After the one catch-up run at `now`, nothing is due until 12:00.
    assert not due(schedule, now, rome(2026, 3, 30, 11, 59))
    assert due(schedule, now, rome(2026, 3, 30, 12, 0))
    assert missed_runs(schedule, now, now) == []


# -- parsing, storage --


def test_parse_cli_forms():
    assert parse_cli(["--daily", "4", "--between", "08:00-20:00", "--tz", "Europe/Rome"]) == (
        Schedule("daily", tz="Europe/Rome", times=4, between=("08:00", "20:00"))
    )
    assert parse_cli(["--at", "8:00"], default_tz="UTC") == Schedule("daily", at=("08:00",))
    assert parse_cli(["--at", "08:00", "--weekly", "mon,thu", "--tz", "UTC"]).kind == "weekly"
    assert parse_cli(["--at", "08:00", "--monthly", "1,15,last", "--tz", "UTC"]).days == (
        1,
        15,
        "last",
    )
    assert parse_cli(["--cron", "0 8 * * 1-5", "--tz", "UTC"]).cron == "0 8 * * 1-5"
    assert parse_cli(["--off"]).kind == "off"


def test_parse_cli_unknown_flag():
    with pytest.raises(ConfigError) as caught:
        parse_cli(["--hourly"])
    assert text(caught.value) == "schedule options: unrecognized arguments: --hourly; see --help"


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule("off"),
        Schedule("daily", tz="Europe/Rome", times=4, between=("08:00", "20:00")),
        Schedule("daily", tz="Europe/Rome", at=("08:00", "13:30")),
        Schedule("weekly", tz="America/New_York", weekdays=("mon", "fri"), at=("09:00",)),
        Schedule("monthly", tz="UTC", days=(1, 15, "last"), at=("06:00",)),
        Schedule("cron", tz="Asia/Kolkata", cron="*/5 9-17 * * 1-5"),
    ],
)
def test_to_dict_round_trip(schedule):
    data = json.loads(json.dumps(schedule.to_dict()))
    assert Schedule.from_dict(data) == schedule


def test_to_dict_shape():
    assert Schedule("daily", tz="Europe/Rome", times=4, between=("08:00", "20:00")).to_dict() == {
        "kind": "daily",
        "tz": "Europe/Rome",
        "times": 4,
        "between": ["08:00", "20:00"],
    }


# -- every error message --

ERRORS = [
    # malformed times
    (dict(at="25:00"), "invalid time '25:00'; use HH:MM from 00:00 to 23:59, e.g. 08:30"),
    (dict(at="08:60"), "invalid time '08:60'; use HH:MM from 00:00 to 23:59, e.g. 08:30"),
    (dict(at="8h"), "invalid time '8h'; use HH:MM from 00:00 to 23:59, e.g. 08:30"),
    (dict(at="08:00,"), "invalid time ''; use HH:MM from 00:00 to 23:59, e.g. 08:30"),
    (dict(at=""), "--at needs at least one time; e.g. --at 08:00,13:30"),
    (dict(daily=4, between="8-20"), "invalid time '8'; use HH:MM from 00:00 to 23:59, e.g. 08:30"),
    (
        dict(daily=4, between="08:00"),
        "invalid window '08:00'; use --between HH:MM-HH:MM, e.g. 08:00-20:00",
    ),
    # weekdays, days of month
    (
        dict(weekly="mon,mun", at="08:00"),
        "unknown weekday 'mun'; use mon, tue, wed, thu, fri, sat or sun",
    ),
    (dict(weekly="", at="08:00"), "--weekly needs at least one weekday; e.g. --weekly mon,thu"),
    (
        dict(monthly="0", at="08:00"),
        "invalid day of month '0'; use 1 to 31, or 'last' for the last day of each month",
    ),
    (
        dict(monthly="32", at="08:00"),
        "invalid day of month '32'; use 1 to 31, or 'last' for the last day of each month",
    ),
    (
        dict(monthly="first", at="08:00"),
        "invalid day of month 'first'; use 1 to 31, or 'last' for the last day of each month",
    ),
    (dict(monthly="", at="08:00"), "--monthly needs at least one day; e.g. --monthly 1,15,last"),
    # daily N
    (
        dict(daily="0", between="08:00-20:00"),
        "invalid number of daily runs '0'; --daily takes a whole number from 1 to 1440 (use --off for none)",
    ),
    (
        dict(daily="four", between="08:00-20:00"),
        "invalid number of daily runs 'four'; --daily takes a whole number from 1 to 1440 (use --off for none)",
    ),
    (
        dict(daily=1441, between="00:00-23:59"),
        "invalid number of daily runs 1441; --daily takes a whole number from 1 to 1440 (use --off for none)",
    ),
    (
        dict(daily=4, between="08:00-08:00"),
        "window 08:00-08:00 is empty and cannot hold 4 runs; widen --between, or use --daily 1",
    ),
    (
        dict(daily=4, between="08:00-08:02"),
        "window 08:00-08:02 is too short for 4 runs; runs are at least a minute apart: 4 runs need a window of at least 3 minutes",
    ),
    (
        dict(daily=2, between="22:00-06:00"),
        "window 22:00-06:00 ends before it starts; a window lies within one day; list runs around midnight with --at instead",
    ),
    (
        dict(daily=4),
        "--daily 4 needs a window; add --between HH:MM-HH:MM, e.g. --between 08:00-20:00",
    ),
    # cron
    (
        dict(cron="0 0 30 2 *"),
        "cron expression '0 0 30 2 *' never fires; day 30 never occurs in February; pick days that exist, or L for the last day",
    ),
    (
        dict(cron="0 0 31 2 *"),
        "cron expression '0 0 31 2 *' never fires; day 31 never occurs in February; pick days that exist, or L for the last day",
    ),
    (
        dict(cron="0 0 31 4,6,9,11 *"),
        "cron expression '0 0 31 4,6,9,11 *' never fires; day 31 never occurs in April, June, September or November; pick days that exist, or L for the last day",
    ),
    (
        dict(cron="0 8 * *"),
        "cron expression '0 8 * *' has 4 fields, not 5; give minute hour day-of-month month day-of-week, e.g. '0 8 * * mon-fri'",
    ),
    (
        dict(cron="0 0 8 * * *"),
        "cron expression '0 0 8 * * *' has 6 fields, not 5; give minute hour day-of-month month day-of-week, e.g. '0 8 * * mon-fri'",
    ),
    (
        dict(cron="  "),
        "empty cron expression; give 5 fields: minute hour day-of-month month day-of-week, e.g. '0 8 * * mon-fri'",
    ),
    (
        dict(cron="61 * * * *"),
        "invalid minute field '61' in cron expression '61 * * * *'; the minute takes 0-59, lists (a,b), ranges (a-b) and steps (*/n)",
    ),
    (
        dict(cron="0 24 * * *"),
        "invalid hour field '24' in cron expression '0 24 * * *'; the hour takes 0-23, lists (a,b), ranges (a-b) and steps (*/n)",
    ),
    (
        dict(cron="0 8 0 * *"),
        "invalid day-of-month field '0' in cron expression '0 8 0 * *'; the day-of-month takes 1-31 or L, lists (a,b), ranges (a-b) and steps (*/n)",
    ),
    (
        dict(cron="0 8 * 13 *"),
        "invalid month field '13' in cron expression '0 8 * 13 *'; the month takes 1-12 or jan-dec, lists (a,b), ranges (a-b) and steps (*/n)",
    ),
    (
        dict(cron="0 8 * * funday"),
        "invalid day-of-week field 'funday' in cron expression '0 8 * * funday'; the day-of-week takes 0-6 or sun-sat, lists (a,b), ranges (a-b) and steps (*/n)",
    ),
    (
        dict(cron="*/0 * * * *"),
        "invalid minute field '*/0' in cron expression '*/0 * * * *'; the minute takes 0-59, lists (a,b), ranges (a-b) and steps (*/n)",
    ),
    (
        dict(cron="R 8 * * *"),
        "cron expression 'R 8 * * *' uses a hashed or random value ('R'); write the exact minute, hour or day instead",
    ),
    (
        dict(cron="H 8 * * *"),
        "cron expression 'H 8 * * *' uses a hashed or random value ('H'); write the exact minute, hour or day instead",
    ),
    # time zone
    (
        dict(at="08:00", tz="Europe/Roma"),
        "unknown time zone 'Europe/Roma'; use an IANA zone name, e.g. Europe/Rome or UTC",
    ),
    (
        dict(at="08:00", tz="../../etc/passwd"),
        "unknown time zone '../../etc/passwd'; use an IANA zone name, e.g. Europe/Rome or UTC",
    ),
    (dict(at="08:00", tz=None), "no time zone given; add --tz ZONE, e.g. --tz Europe/Rome"),
    # conflicting or missing flags
    (
        dict(),
        "no schedule given; use --daily N --between HH:MM-HH:MM, --at HH:MM (with --weekly or --monthly), --cron EXPR or --off",
    ),
    (
        dict(off=True, at="08:00"),
        "--off cannot be combined with --at; use --off alone to stop scheduled runs",
    ),
    (
        dict(cron="0 8 * * *", at="08:00", weekly="mon"),
        "--cron cannot be combined with --at and --weekly; a cron expression is the whole schedule: give --cron alone (with --tz)",
    ),
    (
        dict(daily=4, between="08:00-20:00", at="09:00"),
        "--daily cannot be combined with --at; --daily N spreads N runs over --between; to list times use --at alone",
    ),
    (
        dict(daily=4, between="08:00-20:00", weekly="mon"),
        "--daily cannot be combined with --weekly; --daily N spreads N runs over --between; to list times use --at alone",
    ),
    (
        dict(weekly="mon", monthly="1", at="08:00"),
        "--weekly and --monthly cannot be combined; pick one, or write a --cron expression",
    ),
    (
        dict(between="08:00-20:00", at="08:00"),
        "--between is only for --daily N; e.g. --daily 4 --between 08:00-20:00",
    ),
    (dict(weekly="mon"), "--weekly needs the times to run at; add --at HH:MM[,HH:MM...]"),
    (dict(monthly="1"), "--monthly needs the times to run at; add --at HH:MM[,HH:MM...]"),
]


@pytest.mark.parametrize(("options", "message"), ERRORS)
def test_error_messages(options, message):
    options.setdefault("tz", "Europe/Rome")
    with pytest.raises(ConfigError) as caught:
        schedule_from_options(**options)
    assert text(caught.value) == message


CONSTRUCTOR_ERRORS = [
    (
        dict(kind="hourly"),
        "unknown schedule kind 'hourly'; use off, daily, weekly, monthly or cron",
    ),
    (
        dict(kind="weekly", weekdays=("mon",)),
        "a weekly schedule needs the times it runs at; add --at HH:MM[,HH:MM...]",
    ),
    (
        dict(kind="daily"),
        "a daily schedule needs the times it runs at; add --daily N --between HH:MM-HH:MM or --at HH:MM[,HH:MM...]",
    ),
    (
        dict(kind="daily", times=4),
        "daily runs (4 times) need a window; add --between HH:MM-HH:MM, e.g. --between 08:00-20:00",
    ),
    (
        dict(kind="daily", at=("08:00",), weekdays=("mon",)),
        "a daily schedule takes no 'weekdays'; drop 'weekdays' or change the schedule kind",
    ),
    (
        dict(kind="off", cron="0 8 * * *"),
        "an off schedule takes no 'cron'; drop 'cron' or change the schedule kind",
    ),
]


@pytest.mark.parametrize(("fields", "message"), CONSTRUCTOR_ERRORS)
def test_constructor_errors(fields, message):
    with pytest.raises(ConfigError) as caught:
        Schedule(**fields)
    assert text(caught.value) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {},
            "stored schedule is not a schedule (no 'kind'); set the schedule again, e.g. --daily 4 --between 08:00-20:00",
        ),
        (
            [],
            "stored schedule is not a schedule (no 'kind'); set the schedule again, e.g. --daily 4 --between 08:00-20:00",
        ),
        (
            {"kind": "daily", "tz": "UTC", "at": ["08:00"], "every": 2},
            "stored schedule has unknown field 'every'; set the schedule again, or upgrade Sincro if it was saved by a newer version",
        ),
        (
            {"kind": "daily", "at": ["08:00"]},
            "stored schedule has no time zone; set it again with --tz ZONE",
        ),
        (
            {"kind": "daily", "tz": "UTC", "at": ["8 o'clock"]},
            'invalid time "8 o\'clock"; use HH:MM from 00:00 to 23:59, e.g. 08:30',
        ),
        (
            {"kind": "daily", "tz": "UTC", "times": True, "between": ["08:00", "09:00"]},
            "invalid number of daily runs True; --daily takes a whole number from 1 to 1440 (use --off for none)",
        ),
    ],
)
def test_from_dict_errors(data, message):
    with pytest.raises(ConfigError) as caught:
        Schedule.from_dict(data)
    assert text(caught.value) == message


# -- properties against a brute-force oracle --

ZONES = [
    "Europe/Rome",
    "America/New_York",
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Santiago",  # transitions at midnight: 00:00 may not exist
    "Asia/Kolkata",
    "UTC",
]


@lru_cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """UTC instants (to the minute) where the zone's offset changes in 2026."""
    zone = ZoneInfo(zone_name)
    found = []
    t = datetime(2026, 1, 1, tzinfo=UTC)
    previous = t.astimezone(zone).utcoffset()
    while t.year == 2026:
        nxt = t + timedelta(hours=1)
        offset = nxt.astimezone(zone).utcoffset()
        if offset != previous:
            m = t
            while m.astimezone(zone).utcoffset() == previous:
                m += timedelta(minutes=1)
            found.append(m)
            previous = offset
        t = nxt
    return tuple(found) or (datetime(2026, 3, 29, 1, tzinfo=UTC),)


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


def oracle_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    while not exists(wall, zone):  # in a gap: the first minute after it
        wall += timedelta(minutes=1)
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def parse_field(text: str, low: int, high: int) -> set[int] | None:
    """A tiny cron field parser (the subset the strategy generates); None = '*'."""
    if text == "*":
        return None
    values: set[int] = set()
    for part in text.split(","):
        rng, _, step = part.partition("/")
        if rng == "*":
            a, b = low, high
        elif "-" in rng:
            a, b = map(int, rng.split("-"))
        else:
            a = b = int(rng)
            if step:
                b = high
        values.update(range(a, b + 1, int(step or 1)))
    return values


def oracle_day_and_times(schedule: Schedule):
    """(day -> bool, sorted minutes of day) for a schedule, without croniter."""
    if schedule.kind == "cron":
        minute, hour, dom, month, dow = schedule.cron.split()
        minutes = parse_field(minute, 0, 59) or set(range(60))
        hours = parse_field(hour, 0, 23) or set(range(24))
        doms, months, dows = (
            parse_field(dom, 1, 31),
            parse_field(month, 1, 12),
            parse_field(dow, 0, 6),
        )

        def day_ok(d: date) -> bool:
            if months is not None and d.month not in months:
                return False
            dom_ok = doms is None or d.day in doms
            dow_ok = dows is None or (d.isoweekday() % 7) in dows
            if doms is not None and dows is not None:
                return dom_ok or dow_ok  # cron: either restricted day field
            return dom_ok and dow_ok

        return day_ok, sorted(h * 60 + m for h in hours for m in minutes)

    times = sorted(int(t[:2]) * 60 + int(t[3:]) for t in schedule.run_times())
    if schedule.kind == "daily":
        return (lambda d: True), times
    if schedule.kind == "weekly":
        days = {WEEKDAYS.index(w) for w in schedule.weekdays}
        return (lambda d: d.weekday() in days), times

    def month_day_ok(d: date) -> bool:
        last = (d.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        return d.day in schedule.days or ("last" in schedule.days and d == last)

    return month_day_ok, times


def oracle_runs(schedule: Schedule, start: datetime, n: int) -> list[datetime]:
    zone = schedule.zone
    day_ok, times = oracle_day_and_times(schedule)
    start_utc = start.astimezone(UTC)
    day = start.astimezone(zone).date() - timedelta(days=1)
    found: list[datetime] = []
    while len(found) < n:
        if day_ok(day):
            for minutes in times:
                wall = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)
                instant = oracle_instant(wall, zone)
                if instant > start_utc and (not found or instant > found[-1]):
                    found.append(instant)
        day += timedelta(days=1)
    return found[:n]


hhmm = st.integers(0, 1439).map(lambda m: f"{m // 60:02d}:{m % 60:02d}")
at_lists = st.lists(hhmm, min_size=1, max_size=5)


@st.composite
def daily_spread(draw):
    count = draw(st.integers(1, 12))
    start = draw(st.integers(0, 1439 - (count - 1)))
    end = (
        draw(st.integers(start + count - 1, 1439)) if count > 1 else draw(st.integers(start, 1439))
    )
    fmt = lambda m: f"{m // 60:02d}:{m % 60:02d}"  # noqa: E731
    return dict(daily=count, between=f"{fmt(start)}-{fmt(end)}")


def cron_field(low: int, high: int, star_ok: bool = True):
    single = st.integers(low, high).map(str)
    rng = st.tuples(st.integers(low, high), st.integers(low, high)).map(
        lambda ab: f"{min(ab)}-{max(ab)}"
    )
    listed = st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True).map(
        lambda xs: ",".join(map(str, xs))
    )
    step = st.integers(1, max(1, (high - low) // 2)).map(lambda k: f"*/{k}")
    options = [single, rng, listed, step]
    if star_ok:
        options.append(st.just("*"))
    return st.one_of(*options)


@st.composite
def cron_options(draw):
    minute = draw(cron_field(0, 59, star_ok=False))
    hour = draw(cron_field(0, 23))
    dom = draw(
        st.one_of(
            st.just("*"),
            st.lists(st.integers(1, 28), min_size=1, max_size=3, unique=True).map(
                lambda xs: ",".join(map(str, xs))
            ),
        )
    )
    month = draw(st.one_of(st.just("*"), cron_field(1, 12, star_ok=False)))
    dow = draw(
        st.one_of(
            st.just("*"),
            st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True).map(
                lambda xs: ",".join(map(str, xs))
            ),
        )
    )
    return dict(cron=f"{minute} {hour} {dom} {month} {dow}")


options = st.one_of(
    daily_spread(),
    at_lists.map(lambda xs: dict(at=",".join(xs))),
    st.tuples(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7), at_lists).map(
        lambda p: dict(weekly=",".join(p[0]), at=",".join(p[1]))
    ),
    st.tuples(
        st.lists(st.one_of(st.integers(1, 31), st.just("last")), min_size=1, max_size=4),
        at_lists,
    ).map(lambda p: dict(monthly=",".join(map(str, p[0])), at=",".join(p[1]))),
    cron_options(),
)


@st.composite
def near_transition(draw, zone_name: str):
    """A start instant within a few days before (or hours after) a DST change."""
    pivot = draw(st.sampled_from(transitions(zone_name)))
    seconds = draw(st.integers(-3 * 86400, 6 * 3600))
    return (pivot + timedelta(seconds=seconds)).astimezone(ZoneInfo(zone_name))


@st.composite
def cases(draw):
    zone_name = draw(st.sampled_from(ZONES))
    schedule = schedule_from_options(tz=zone_name, **draw(options))
    return schedule, draw(near_transition(zone_name))


@PROPS
@given(cases())
def test_next_runs_match_oracle(case):
    schedule, start = case
    runs = next_runs(schedule, start, 12)
    assert len(runs) == 12
    utc = [r.astimezone(UTC) for r in runs]
    # strictly increasing, after start, no duplicates, in the schedule's zone
    assert utc[0] > start.astimezone(UTC)
    assert all(a < b for a, b in zip(utc, utc[1:], strict=False))
    assert all(r.tzinfo == schedule.zone for r in runs)
    # exactly the runs the oracle finds: none lost, none doubled, each matching
    assert utc == oracle_runs(schedule, start, 12)


@PROPS
@given(cases())
def test_each_run_matches_in_local_time(case):
    schedule, start = case
    day_ok, times = oracle_day_and_times(schedule)
    zone = schedule.zone
    for run in next_runs(schedule, start, 8):
        wall = run.replace(tzinfo=None)
        minute = wall.hour * 60 + wall.minute
        if day_ok(wall.date()) and minute in times and run.fold == 0:
            continue
        # Otherwise it must be the end of a gap that swallowed a matching time.
        before = (run.astimezone(UTC) - timedelta(minutes=1)).astimezone(zone)
        assert before.utcoffset() != run.utcoffset()
        probe = wall - timedelta(minutes=1)
        swallowed = False
        while not exists(probe, zone):
            swallowed |= day_ok(probe.date()) and probe.hour * 60 + probe.minute in times
            probe -= timedelta(minutes=1)
        assert swallowed


@PROPS
@given(st.sampled_from(ZONES).flatmap(lambda z: st.tuples(st.just(z), daily_spread())))
def test_daily_count_per_local_day_on_transition_days(case):
    zone_name, opts = case
    schedule = schedule_from_options(tz=zone_name, **opts)
    zone = schedule.zone
    times = schedule.run_times()
    for pivot in transitions(zone_name):
        day = pivot.astimezone(zone).date()
        walls = [datetime.combine(day, datetime.strptime(t, "%H:%M").time()) for t in times]
        if not all(exists(w, zone) for w in walls):
            continue  # a time in the gap: covered by the oracle test
        start = datetime.combine(day - timedelta(days=1), datetime.max.time(), tzinfo=zone)
        runs = next_runs(schedule, start, 3 * len(times))
        on_day = [r for r in runs if r.date() == day]
        assert len(on_day) == len(times) == opts["daily"]


@PROPS
@given(cases())
def test_storage_round_trip(case):
    schedule, _ = case
    assert Schedule.from_dict(json.loads(json.dumps(schedule.to_dict()))) == schedule
    assert "\n" not in schedule.describe()
    assert schedule.tz in schedule.describe()


@PROPS
@given(daily_spread())
def test_spread_is_even_and_within_window(opts):
    schedule = schedule_from_options(tz="UTC", **opts)
    minutes = [int(t[:2]) * 60 + int(t[3:]) for t in schedule.run_times()]
    start, end = (int(t[:2]) * 60 + int(t[3:]) for t in opts["between"].split("-"))
    assert len(minutes) == opts["daily"]
    assert minutes[0] == start
    assert all(a < b for a, b in zip(minutes, minutes[1:], strict=False))
    if len(minutes) > 1:
        assert minutes[-1] == end
        gaps = {b - a for a, b in zip(minutes, minutes[1:], strict=False)}
        assert max(gaps) - min(gaps) <= 1


def test_one_value_cron_range_is_one_value():
    # croniter 7 expands "3-3" to the whole field; Sincro rewrites it to "3".
    schedule = schedule_from_options(cron="0 3-3 * 1-1 *", tz="UTC")
    assert schedule.cron == "0 3 * 1 *"
    runs = next_runs(schedule, datetime(2026, 3, 1, tzinfo=UTC), 2)
    assert [r.isoformat() for r in runs] == [
        "2027-01-01T03:00:00+00:00",
        "2027-01-02T03:00:00+00:00",
    ]
