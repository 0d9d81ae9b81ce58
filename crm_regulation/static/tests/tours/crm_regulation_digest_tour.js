import { registry } from "@web/core/registry";

// A digest's "and N more" link: /odoo/<team id>/action-crm_regulation.action_crm_lead_todo_<list>
// opens the team's filtered list, a salesperson's own leads only.
registry.category("web_tour.tours").add("crm_regulation_digest_todo_tour", {
    steps: () => [
        {
            trigger: ".o_list_view .o_data_row:contains(Lead 0)",
            content: "the salesperson's lead without a next activity (F)",
        },
        {
            trigger: ".o_list_view:has(.o_data_row):not(:has(.o_data_row:eq(1)))",
            content: "theirs only: not Pavel's D and E",
        },
    ],
});

// The digest form: "Send me a preview now" queues the user's own digest.
registry.category("web_tour.tours").add("crm_regulation_digest_preview_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_notebook a:contains(Sales Regulation)",
            content: "the sales regulation page of the digest",
            run: "click",
        },
        {
            trigger: ".o_form_view div[name=crm_kpi_ids] .o_tag:contains(New leads)",
            content: "the KPIs the digest shows",
        },
        {
            trigger: ".o_form_view button[name=action_crm_send_preview]",
            content: "send me a preview now",
            run: "click",
        },
        {
            trigger: ".o_notification:contains(The preview is on its way)",
            content: "the preview is queued",
        },
    ],
});
