import { Component, onMounted, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { formatFloat } from "@web/core/utils/numbers";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

// Sales Control: the head of sales' dashboard. Everything comes from one call
// (crm.team.get_regulation_dashboard), computed under the user's rights.
export class SalesControl extends Component {
    static template = "crm_regulation.SalesControl";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.state = useState({
            data: null,
            beforeAfter: [],
            period: "month",
            teamId: false,
            loading: true,
        });
        this.actionTitles = {
            sla: _t("SLA breached"),
            at_risk: _t("SLA at risk"),
            stale: _t("Forgotten (stale)"),
            review: _t("Losses to review"),
            qualification: _t("Not qualified in time"),
            no_activity: _t("No next activity"),
        };
        this.statusLabels = {
            on_track: _t("On track"),
            at_risk: _t("At risk"),
            behind: _t("Behind"),
            no_data: _t("No data"),
        };
        onWillStart(() => this.load());
        onMounted(() => {
            // the first paint, for the tour and the benchmark that measure it
            this.firstPaint = Math.round(performance.now());
            document.body.dataset.crmRegulationFirstPaint = this.firstPaint;
            this.loadBeforeAfter();
        });
    }

    async load() {
        this.state.loading = true;
        this.state.data = await this.orm.call("crm.team", "get_regulation_dashboard", [], {
            team_id: this.state.teamId,
            period: this.state.period,
        });
        this.state.teamId = this.state.data.team && this.state.data.team.id;
        this.state.loading = false;
    }

    // the weeks before and after the regulation went live: after the first paint
    async loadBeforeAfter() {
        this.state.beforeAfter = this.state.teamId
            ? await this.orm.call("crm.team", "get_regulation_before_after", [[this.state.teamId]])
            : [];
    }

    async onTeamChange(ev) {
        this.state.teamId = parseInt(ev.target.value);
        await this.load();
        await this.loadBeforeAfter();
    }

    async onPeriodChange(period) {
        this.state.period = period;
        await this.load();
    }

    format(value, unit) {
        if (value === false || value === null || value === undefined) {
            return "—";
        }
        switch (unit) {
            case "percent":
                return `${formatFloat(value, { digits: [16, 1] })} %`;
            case "hours":
                return _t("%s h", formatFloat(value, { digits: [16, 1] }));
            case "days":
                return _t("%s d", formatFloat(value, { digits: [16, 1] }));
            case "currency":
                return `${formatFloat(value, { digits: [16, 0] })} ${this.state.data.currency}`;
            default:
                return formatFloat(value, { digits: [16, 0] });
        }
    }

    delta(kpi) {
        if (kpi.no_data) {
            return { text: "", good: null };
        }
        const change = kpi.value - kpi.previous;
        if (!change) {
            return { text: "=", good: null };
        }
        const good = kpi.better === "up" ? change > 0 : change < 0;
        const sign = change > 0 ? "+" : "−";
        return { text: `${sign}${this.format(Math.abs(change), kpi.unit)}`, good };
    }

    funnelWidth(kpi) {
        const max = Math.max(1, ...this.state.data.funnel.map((k) => k.details[0]?.entered || 0));
        // (the bars: leads that entered each stage, against the stage most entered)
        return Math.round((100 * (kpi.details[0]?.entered || 0)) / max);
    }

    statusClass(status) {
        return { on_track: "success", at_risk: "warning", behind: "danger" }[status] || "light";
    }

    openLead(leadId) {
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: "crm.lead",
            res_id: leadId,
            views: [[false, "form"]],
        });
    }

    openList(key) {
        const list = this.state.data.actions[key];
        this.action.doAction({
            type: "ir.actions.act_window",
            name: this.actionTitles[key],
            res_model: "crm.lead",
            domain: list.domain,
            context: { active_test: list.active_test },
            views: [
                [false, "list"],
                [false, "form"],
            ],
        });
    }
}

registry.category("actions").add("crm_regulation.sales_control", SalesControl);
