"""The sales regulation of a team as a document (the "Sales Regulation" report, as a web
page and as a PDF): generated from the same cached configuration that crm.lead enforces."""

import ast

from odoo import api, fields, models

from ..models import role_matrix


class SalesRegulationReport(models.AbstractModel):
    _name = "report.crm_regulation.report_sales_regulation"
    _description = "Sales Regulation Document"

    @api.model
    def _get_report_values(self, docids, data=None):
        teams = self.env["crm.team"].browse(docids)
        return {
            "doc_ids": docids,
            "doc_model": "crm.team",
            "docs": teams,
            "documents": {team.id: self._document(team) for team in teams},
        }

    @api.model
    def _document(self, team):
        """The team's regulation, as the "Sales regulation" report prints it: generated from
        the same cached configuration that crm.lead enforces, so both always agree."""
        team.ensure_one()
        env = self.env
        regulation = env["crm.regulation.rule"]._get_regulation()
        pipeline = env["crm.lead"]._regulation_pipelines(regulation).of(team.id)
        # sudo: the regulation document shows the configuration (read-only)
        Stage = env["crm.stage"].sudo()
        Rule = env["crm.regulation.rule"].sudo()
        stage_names = dict(zip(pipeline, Stage.browse(pipeline).mapped("name"), strict=True))

        def names(stage_ids):
            return ", ".join(
                stage_names.get(stage_id) or Stage.browse(stage_id).name
                for stage_id in sorted(stage_ids, key=lambda i: (i not in stage_names, i))
            )

        def field_lines(field_names):
            return [
                env._("“%s” filled in", env["crm.lead"]._fields[fname]._description_string(env))
                for fname in field_names
            ]

        team_rules = [
            rule for rule in regulation.rules if not rule.team_ids or team.id in rule.team_ids
        ]

        def describe(spec):
            rule = Rule.browse(spec.id)
            lines = field_lines(spec.field_names)
            if spec.required is not None:
                lines.append(self._domain_text(rule.required_domain))
            lines += [
                env._("activity “%s” done", activity_type.name)
                for activity_type in rule.required_activity_type_ids
            ]
            applies = []
            applies.append(
                env._("from %s", names(spec.from_stage_ids))
                if spec.from_stage_ids
                else env._("from any stage")
            )
            if spec.condition is not None:
                applies.append(
                    env._("for leads where %s", self._domain_text(rule.condition_domain))
                )
            enforcement = (
                env._("The move is refused.")
                if spec.severity == "block"
                else env._("The move happens; a warning is logged on the lead.")
            )
            if spec.bypass_group_ids:
                enforcement += " " + env._(
                    "Bypass (logged): %s.", ", ".join(rule.bypass_group_ids.mapped("full_name"))
                )
            return {
                "name": rule.name,
                "message": rule.message or "",
                "to_stage_id": spec.to_stage_id,
                "applies": "; ".join(applies),
                "requirements": lines,
                "enforcement": enforcement,
            }

        stage_rules = [describe(rule) for rule in team_rules if rule.target == "stage"]
        stages = []
        for index, stage_id in enumerate(pipeline):
            spec = regulation.stages[stage_id]
            stage = Stage.browse(stage_id)
            requirements = field_lines(spec.field_names) + [
                env._("rule “%s”", rule["name"])
                for rule in stage_rules
                if rule["to_stage_id"] == stage_id
            ]
            moves = []
            if spec.allowed_next_ids:
                moves.append(env._("Only to: %s.", names(spec.allowed_next_ids)))
            elif spec.no_skip and index + 1 < len(pipeline):
                moves.append(
                    env._(
                        "Forward only to %s (no skipping); back to any earlier stage.",
                        stage_names[pipeline[index + 1]],
                    )
                )
            else:
                moves.append(env._("To any stage."))
            opened = [
                rule.to_stage_id
                for rule in team_rules
                if rule.opens_move and stage_id in rule.from_stage_ids
            ]
            if opened and (spec.allowed_next_ids or spec.no_skip):
                moves.append(env._("By a transition rule also to: %s.", names(opened)))
            plan = stage.entry_activity_plan_id
            tasks = [
                template.summary or template.activity_type_id.name for template in plan.template_ids
            ]
            if tasks and spec.window_days:
                tasks.append(
                    env._("(not again within %s days after leaving the stage)", spec.window_days)
                )
            stages.append(
                {
                    "name": stage.name,
                    "is_won": spec.is_won,
                    "sla": self._sla_text(regulation.sla(team.id, stage_id)),
                    "guidance": stage.requirements or "",
                    "requirements": requirements,
                    "moves": " ".join(moves),
                    "tasks": tasks,
                }
            )
        return {
            "generated_on": fields.Datetime.context_timestamp(team, fields.Datetime.now()).strftime(
                "%Y-%m-%d %H:%M"
            ),
            "warning": team._regulation_won_unreachable(regulation) or "",
            "stages": stages,
            "stage_rules": stage_rules,
            "won_rules": [describe(rule) for rule in team_rules if rule.target == "won"],
            "lost_rules": [describe(rule) for rule in team_rules if rule.target == "lost"],
            "reasons": self._reason_lines(),
            "deadlines": self._deadline_lines(team),
            # who may do what: the data the tests check against Odoo and print in README
            "role_matrix": role_matrix.tables(env),
        }

    @api.model
    def _sla_text(self, sla):
        """A stage SLA in words (empty: none)."""
        if not sla:
            return ""
        env = self.env
        notify = dict(self.env["crm.stage"]._fields["sla_notify"]._description_selection(env))
        action = dict(self.env["crm.stage"]._fields["sla_action"]._description_selection(env))
        return env._(
            "%(hours)s business hours; at risk after %(ratio)s%%. On breach: %(action)s "
            "(notified: %(notify)s).",
            hours=f"{sla.hours:g}",
            ratio=f"{sla.warning_ratio * 100:g}",
            action=action[sla.action].lower(),
            notify=notify[sla.notify].lower(),
        )

    @api.model
    def _reason_lines(self):
        """The reasons a lead is closed with, by category, and what each requires."""
        reasons = self.env["crm.lost.reason"].search([("category", "!=", False)], order="name")
        categories = dict(reasons._fields["category"]._description_selection(self.env))
        lines = []
        for category in ("disqualification", "loss"):
            for reason in reasons.filtered(lambda r, c=category: r.category == c):
                notes = []
                if reason.requires_comment:
                    notes.append(self.env._("closing note required"))
                if reason.requires_duplicate_of:
                    notes.append(self.env._("the original lead required"))
                if not reason.revivable:
                    notes.append(self.env._("never revived"))
                lines.append(
                    {
                        "category": categories[category],
                        "name": reason.name,
                        "notes": ", ".join(notes),
                    }
                )
        return lines

    @api.model
    def _deadline_lines(self, team):
        """The team's deadlines and duplicate policy, in words."""
        team.ensure_one()
        env = self.env
        calendar = team._regulation_calendar()
        lines = []
        if team.qualification_stage_id and team.qualification_hours:
            lines.append(
                env._(
                    "A new lead reaches “%(stage)s” or is disqualified within %(hours)s "
                    "business hours (%(calendar)s); the salesperson is reminded %(warning)s "
                    "hours before, the team leader is notified when the deadline passes.",
                    stage=team.qualification_stage_id.name,
                    hours=f"{team.qualification_hours:g}",
                    calendar=calendar.name or "-",
                    warning=f"{team.qualification_warning_hours:g}",
                )
            )
        if team.stale_days:
            line = env._(
                "A lead without a stage move, activity or message for %s days is flagged as "
                "stale and its salesperson told.",
                team.stale_days,
            )
            if team.stale_auto_lose:
                line += " " + env._(
                    "%(days)s days later, still untouched, it is lost (“%(reason)s”).",
                    days=team.stale_grace_days,
                    reason=team.stale_lost_reason_id.name,
                )
            lines.append(line)
        policy = {
            "warn": env._(
                "A new lead with the email or phone of an open lead is flagged as a "
                "possible duplicate, naming the original's owner."
            ),
            "block": env._(
                "A new lead with the email or phone of an open lead is refused; "
                "work continues on the original."
            ),
        }.get(team.duplicate_policy)
        if policy:
            lines.append(policy)
        return lines

    @api.model
    def _domain_text(self, domain_text):
        """A rule's domain in words when it is a plain list of conditions, else as is."""
        Lead = self.env["crm.lead"]
        operators = {
            "=": "=",
            "!=": "≠",
            ">": ">",
            ">=": "≥",
            "<": "<",
            "<=": "≤",
            "in": self.env._("in"),
            "not in": self.env._("not in"),
            "ilike": self.env._("contains"),
        }
        try:
            conditions = ast.literal_eval(domain_text or "[]")
        except (ValueError, SyntaxError):
            return domain_text
        words = []
        for condition in conditions:
            if (
                not isinstance(condition, (list, tuple))
                or len(condition) != 3
                or condition[0] not in Lead._fields
                or condition[1] not in operators
            ):
                return domain_text
            fname, operator, value = condition
            field = Lead._fields[fname]
            label = field._description_string(self.env)
            if field.type == "boolean" and operator in ("=", "!=") and isinstance(value, bool):
                positive = value == (operator == "=")
                words.append(f"“{label}”" if positive else self.env._("not “%s”", label))
            elif value is False and operator in ("=", "!="):
                words.append(
                    self.env._("“%s” set", label)
                    if operator == "!="
                    else self.env._("“%s” empty", label)
                )
            else:
                words.append(f"“{label}” {operators[operator]} {value}")
        return self.env._(" and ").join(words) if words else self.env._("any lead")
