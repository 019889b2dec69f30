"""Schedule expressions of EventBridge rules: ``rate(...)`` and ``cron(...)``, in UTC.

``rate(5 minutes)`` fires every five minutes from the rule's creation;
``cron(Minutes Hours Day-of-month Month Day-of-week Year)`` fires at the minutes it
names: ``*`` any, ``?`` any (one of the two day fields must be ``?``), lists ``1,15``,
ranges ``MON-FRI``, steps ``0/15``, ``L`` (the month's last day, or ``6L`` its last
Friday), ``W`` (the weekday nearest a day: ``15W``, ``LW``) and ``#`` (``2#1``: the
month's first Monday). Days of the week run 1-7 from Sunday.
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html
Introduced in notebook 12. A schedule is a setting the user chose: it is never sped up.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = {name: number for number, name in enumerate(
    "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
DAYS = {name: number for number, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), 1)}
SEARCH_DAYS = 5 * 366

__all__ = ["ScheduleError", "Schedule"]


class ScheduleError(ValueError):
    """An expression EventBridge would refuse, or one the lab cannot evaluate."""


def _values(field: str, low: int, high: int, names: dict) -> set[int]:
    found = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", "?"):
            start, end = low, high
        elif "-" in part:
            first, last = part.split("-", 1)
            start, end = _number(first, names), _number(last, names)
        else:
            start = _number(part, names)
            end = high if step > 1 else start
        if not low <= start <= high or not low <= end <= high or step < 1:
            raise ScheduleError(f"{part!r} is outside {low}-{high}")
        found.update(range(start, end + 1, step))
    return found


def _number(text: str, names: dict) -> int:
    text = text.upper()
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ScheduleError(f"{text!r} is not a number")
    return int(text)


class Schedule:
    """A parsed expression: ``next_after(moment)`` is the next time it fires."""

    def __init__(self, expression: str):
        self.expression = expression
        rate = RATE.fullmatch(expression or "")
        if rate:
            amount, unit = int(rate[1]), rate[2].rstrip("s")
            if amount < 1 or (amount == 1) != (not rate[2].endswith("s")):
                raise ScheduleError("rate takes a positive value: 1 minute, 5 minutes")
            self.period = amount * UNIT_SECONDS[unit]
            return
        self.period = None
        found = re.fullmatch(r"cron\((.+)\)", expression or "")
        fields = found[1].split() if found else []
        if len(fields) != 6:
            raise ScheduleError("expected rate(value unit) or cron(with six fields)")
        minutes, hours, self.dom, months, self.dow, years = fields
        if (self.dom == "?") == (self.dow == "?"):
            raise ScheduleError("one of day-of-month and day-of-week must be ?")
        self.minutes = _values(minutes, 0, 59, {})
        self.hours = _values(hours, 0, 23, {})
        self.months = _values(months, 1, 12, MONTHS)
        self.years = _values(years, 1970, 2199, {})
        if self.dom != "?" and not re.search("[LW]", self.dom):
            self.dom_values = _values(self.dom, 1, 31, {})
        if self.dow != "?" and not re.search("[L#]", self.dow):
            self.dow_values = _values(self.dow, 1, 7, DAYS)

    def next_after(self, moment: datetime, created: datetime | None = None) -> datetime:
        if self.period is not None:
            start = created or moment
            periods = int((moment - start).total_seconds() // self.period) + 1
            return start + timedelta(seconds=periods * self.period)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(SEARCH_DAYS):
            if day.year in self.years and day.month in self.months and self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = day.replace(hour=hour, minute=minute)
                        if candidate > moment:
                            return candidate
            day += timedelta(days=1)
        raise ScheduleError(f"{self.expression} never fires in the next five years")

    def _day_matches(self, day: datetime) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        weekday = (day.weekday() + 1) % 7 + 1  # Sunday is 1
        if self.dom != "?":
            text = self.dom.upper()
            if text == "L":
                return day.day == last
            if text.endswith("W"):
                target = last if text == "LW" else int(text[:-1])
                return day.day == _nearest_weekday(day.year, day.month, min(target, last))
            return day.day in self.dom_values
        text = self.dow.upper()
        if text.endswith("L"):
            wanted = _number(text[:-1], DAYS) if len(text) > 1 else 7
            return weekday == wanted and day.day + 7 > last
        if "#" in text:
            wanted, nth = text.split("#", 1)
            return weekday == _number(wanted, DAYS) and (day.day - 1) // 7 + 1 == int(nth)
        return weekday in self.dow_values


def _nearest_weekday(year: int, month: int, day: int) -> int:
    weekday = calendar.weekday(year, month, day)  # Monday is 0
    last = calendar.monthrange(year, month)[1]
    if weekday == 5:  # Saturday: the Friday before, or the Monday after on the 1st
        return day - 1 if day > 1 else day + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before at the month's end
        return day + 1 if day < last else day - 2
    return day
