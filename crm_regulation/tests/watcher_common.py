from .common import CrmRegulationCommon


class WatcherCommon(CrmRegulationCommon):
    """A team working Monday to Friday with a qualification deadline, and the watchers
    run as their crons at a given time."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Monday to Friday, 9:00-13:00 and 14:00-18:00 UTC
        cls.calendar = cls.env["resource.calendar"].create(
            {
                "name": "Sales hours",
                "tz": "UTC",
                "attendance_ids": [
                    (
                        0,
                        0,
                        {
                            "name": f"{day} {start}",
                            "dayofweek": str(day),
                            "hour_from": start,
                            "hour_to": end,
                        },
                    )
                    for day in range(5)
                    for start, end in ((9, 13), (14, 18))
                ],
            }
        )
        cls.team.write(
            {
                "resource_calendar_id": cls.calendar.id,
                "qualification_stage_id": cls.stage_qualification.id,
                "qualification_hours": 8,
                "qualification_warning_hours": 3,
                "stale_days": 0,
            }
        )
        cls.no_response = cls.env.ref("crm_regulation.lost_reason_no_response")
        cls.qualify = cls.env.ref("crm_regulation.mail_activity_type_qualify")

    def run_cron(self, xmlid, when):
        with self.at(when), self.enter_registry_test_mode():
            self.env.ref(xmlid).sudo().method_direct_trigger()
        self.env.invalidate_all()

    def qualification_watcher(self, when):
        self.run_cron("crm_regulation.ir_cron_qualification_watcher", when)

    def stale_watcher(self, when):
        self.run_cron("crm_regulation.ir_cron_stale_leads", when)

    def qualify_activities(self, leads):
        return self.env["mail.activity"].search(
            [
                ("res_model", "=", "crm.lead"),
                ("res_id", "in", leads.ids),
                ("activity_type_id", "=", self.qualify.id),
            ]
        )

    def notes_to(self, lead, user, text):
        return lead.message_ids.filtered(
            lambda message: user.partner_id in message.partner_ids and text in message.body
        )
