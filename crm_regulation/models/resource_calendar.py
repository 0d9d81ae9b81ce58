from pytz import utc

from odoo import api, models, tools

from .business_clock import CHUNK, naive_utc


class ResourceCalendar(models.Model):
    _inherit = "resource.calendar"

    @tools.ormcache("self.id", "window")
    def _regulation_window_intervals(self, window):
        """Working intervals of the calendar (attendances in its time zone, minus its
        global leaves) from ``window`` for ``CHUNK``, as naive UTC pairs. Cached per
        registry: a stage move of a lead counts its SLA without a query; any change of a
        calendar, its attendances or its global leaves clears the cache."""
        self.ensure_one()
        # sudo: working time of a calendar, read-only and cached
        intervals = self.sudo()._work_intervals_batch(
            utc.localize(window), utc.localize(window + CHUNK), compute_leaves=True
        )[False]
        return tuple((naive_utc(start), naive_utc(stop)) for start, stop, _meta in intervals)

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result


class CalendarChange(models.AbstractModel):
    """Attendances and global leaves change the working time the regulation counts in."""

    _name = "crm.regulation.calendar.change"
    _description = "Working Time Change"

    def _regulation_changes_calendar(self):
        return True

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if records._regulation_changes_calendar():
            self.env.registry.clear_cache()
        return records

    def write(self, vals):
        changed = self._regulation_changes_calendar()
        result = super().write(vals)
        if changed or self._regulation_changes_calendar():
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        changed = self._regulation_changes_calendar()
        result = super().unlink()
        if changed:
            self.env.registry.clear_cache()
        return result


class ResourceCalendarAttendance(models.Model):
    _name = "resource.calendar.attendance"
    _inherit = ["resource.calendar.attendance", "crm.regulation.calendar.change"]


class ResourceCalendarLeaves(models.Model):
    _name = "resource.calendar.leaves"
    _inherit = ["resource.calendar.leaves", "crm.regulation.calendar.change"]

    def _regulation_changes_calendar(self):
        # an employee's time off (a leave of one resource) is not the team's working time
        return any(not leave.resource_id for leave in self)
