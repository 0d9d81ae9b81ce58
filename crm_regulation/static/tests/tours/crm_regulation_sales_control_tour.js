import { registry } from "@web/core/registry";

// Sales Control: headline KPIs, the funnel, plan vs actual, and a lead to act on opened.
registry.category("web_tour.tours").add("crm_regulation_sales_control_tour", {
    steps: () => [
        {
            trigger: ".o_crm_regulation_sales_control .o_kpi_card[data-code=new_leads] .o_kpi_value",
            content: "the headline KPIs of the team",
            run() {
                // the dashboard's first paint since the page was opened, for the benchmark
                const paint = document.body.dataset.crmRegulationFirstPaint;
                console.info(`crm_regulation: Sales Control first paint ${paint} ms`);
            },
        },
        {
            trigger: ".o_sales_control_funnel .o_funnel_step:contains(New Lead → Qualification):contains(50.0 %)",
            content: "the funnel, stage by stage: one of the two new leads went on",
        },
        {
            trigger: ".o_sales_control_plans tr.o_plan_row[data-code=new_leads]:is(.table-success, .table-warning, .table-danger)",
            content: "plan vs actual, colour-coded",
        },
        {
            trigger: ".o_sales_control_before_after tr:contains(New leads)",
            content: "before / after the regulation went live, loaded after the first paint",
        },
        {
            trigger: ".o_sales_control_period button:contains(Week)",
            content: "this week",
            run: "click",
        },
        {
            trigger: ".o_sales_control_period button.active:contains(Week)",
            content: "the week's figures",
        },
        {
            trigger: ".o_sales_control_actions[data-list=sla] a.o_sales_control_lead:contains(Funnel lead D)",
            content: "a lead past its SLA: open it",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_breadcrumb:contains(Funnel lead D)",
            content: "the lead's form",
        },
    ],
});
