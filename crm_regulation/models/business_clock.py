"""Business-hour arithmetic over a ``resource.calendar``, for many moments at once.

``resource.calendar.plan_hours`` and ``get_work_hours_count`` compute the working intervals
again at every call: right for one date, too slow for the thousands of leads a stage
change, an SLA change or a watcher run deals with. A ``BusinessClock`` takes the calendar's
working intervals once per 4-week window (``_work_intervals_batch``: attendances in the
calendar's time zone, so DST is the calendar's, minus its global leaves; cached per
registry by ``resource.calendar._regulation_window_intervals``), keeps them as UTC
intervals with the working hours elapsed before each, and answers every question with a
binary search.
"""

from bisect import bisect_left, bisect_right
from datetime import datetime, timedelta

from pytz import utc

# How far a clock looks for working time before it gives up (a calendar with no
# working time is refused by the configuration; this only bounds a broken one).
HORIZON = timedelta(days=3 * 366)
# The window asked of the calendar at once, aligned on EPOCH (so that the calendar's
# answers can be cached per window: ``resource.calendar._regulation_window_intervals``).
CHUNK = timedelta(days=28)
EPOCH = datetime(2000, 1, 3)  # a Monday


def naive_utc(moment):
    return moment.astimezone(utc).replace(tzinfo=None)


def window_start(moment):
    """The start of the cached window that holds ``moment``."""
    return EPOCH + CHUNK * ((moment - EPOCH) // CHUNK)


class BusinessClock:
    """Working time of one calendar from ``start`` on (naive UTC datetimes).

    ``hours_at(t)`` is the number of working hours from ``start`` to ``t``; the other
    answers derive from it. The clock extends itself forward when asked about a later
    moment.
    """

    def __init__(self, calendar, start, end=None):
        self.calendar = calendar
        self.start = start.replace(microsecond=0)
        self.end = self.start
        self.starts = []  # interval starts (naive UTC), sorted
        self.stops = []
        self.before = []  # working hours before each interval
        self.total = 0.0  # working hours from start to end
        self._ends_cache = None
        self.extend(max(end or self.start, self.start + CHUNK))

    def extend(self, until):
        """Make sure the clock knows the working intervals up to ``until``."""
        if until <= self.end:
            return
        until = max(until, self.end + CHUNK)
        self._ends_cache = None
        intervals = []
        window = window_start(self.end)
        while window < until:
            intervals += self.calendar._regulation_window_intervals(window)
            window += CHUNK
        for start, stop in intervals:
            start, stop = max(start, self.end), min(stop, until)
            if stop <= start:
                continue
            if self.stops and start <= self.stops[-1]:  # contiguous with the previous one
                self.total += (stop - self.stops[-1]).total_seconds() / 3600.0
                self.stops[-1] = max(self.stops[-1], stop)
                continue
            self.starts.append(start)
            self.stops.append(stop)
            self.before.append(self.total)
            self.total += (stop - start).total_seconds() / 3600.0
        self.end = until

    def hours_at(self, moment):
        """Working hours from the clock's start to ``moment`` (0 before the start)."""
        if moment <= self.start:
            return 0.0
        self.extend(moment)
        index = bisect_right(self.starts, moment) - 1
        if index < 0:
            return 0.0
        inside = min(moment, self.stops[index]) - self.starts[index]
        return self.before[index] + inside.total_seconds() / 3600.0

    def hours_between(self, start, end):
        """Working hours from ``start`` to ``end`` (negative when ``end`` comes first)."""
        return self.hours_at(end) - self.hours_at(start)

    def plan(self, moment, hours):
        """The moment ``hours`` working hours after ``moment`` (``hours`` > 0): counted
        from the next working moment when ``moment`` is outside working time. None when
        the calendar has no working time within the horizon."""
        target = self.hours_at(moment) + hours
        while self.total < target:
            if self.end - max(moment, self.start) > HORIZON:
                return None
            self.extend(self.end + max(CHUNK, (self.end - self.start)))
        # the first interval whose end reaches the target
        index = bisect_left(self._ends(), target - 1e-9)
        offset = timedelta(seconds=round((target - self.before[index]) * 3600))
        return min(self.starts[index] + offset, self.stops[index])

    def _ends(self):
        """Working hours elapsed at the end of each interval (built when needed)."""
        if self._ends_cache is None:
            self._ends_cache = [
                before + (stop - start).total_seconds() / 3600.0
                for before, start, stop in zip(self.before, self.starts, self.stops, strict=True)
            ]
        return self._ends_cache


def clock_for(calendar, moments, hours=0.0):
    """A clock of ``calendar`` covering ``moments`` (and ``hours`` of work after the last)."""
    moments = [moment for moment in moments if isinstance(moment, datetime)]
    start = min(moments)
    clock = BusinessClock(calendar, start, max(moments))
    if hours:
        clock.extend(max(moments) + timedelta(hours=hours * 4))
    return clock


def business_moment(clock, start, hours):
    """``hours`` business hours after ``start`` (calendar hours without a clock, or when the
    calendar has no working time)."""
    return (clock and clock.plan(start, hours)) or start + timedelta(hours=hours)
