import { registry } from "@web/core/registry";

// A CRM administrator opens the rights audit: the over-privileged salesperson comes flagged,
// with the reason.
registry.category("web_tour.tours").add("crm_regulation_rights_audit_tour", {
    steps: () => [
        {
            trigger:
                ".o_list_view .o_data_row.text-danger:contains(Tour Settings Salesperson):contains(Administration / Settings without the CRM Administrator role)",
            content: "the over-privileged salesperson, flagged with the reason",
        },
        {
            trigger: ".o_list_view .o_data_row:not(.text-danger):contains(Tour Head)",
            content: "a head of sales within their role, not flagged",
        },
    ],
});

// A marketer opens a lead: its source and campaign, no contact data.
registry.category("web_tour.tours").add("crm_regulation_marketer_lead_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_field_widget[name=source_id]",
            content: "the lead's source",
        },
        {
            trigger:
                ".o_form_view:not(:has(.o_field_widget[name=email_from])):not(:has(.o_field_widget[name=phone])):not(:has(.o_field_widget[name=partner_id])) .o_field_widget[name=campaign_id]",
            content: "no e-mail, phone or customer on the marketer's form",
        },
        {
            trigger: ".o_form_view:contains(Tour Nurtured Lead)",
            content: "the lead's name",
        },
    ],
});

// A marketer opens the pipeline (its search made for what they see) and searches a lead by
// name.
registry.category("web_tour.tours").add("crm_regulation_marketer_pipeline_tour", {
    steps: () => [
        {
            trigger: ".o_kanban_view .o_kanban_record:contains(Tour Nurtured Lead)",
            content: "the pipeline shows the lead",
        },
        {
            trigger: ".o_searchview_input",
            content: "search by the lead's name",
            run: "edit Nurtured",
        },
        {
            trigger: ".o_searchview_autocomplete .o-dropdown-item:contains(Lead)",
            content: "search leads",
            run: "click",
        },
        {
            trigger: ".o_searchview_facet:contains(Nurtured)",
            content: "the search applied",
        },
        {
            trigger: ".o_kanban_view .o_kanban_record:contains(Tour Nurtured Lead)",
            content: "the lead found",
        },
    ],
});

// A marketer opens the leads in revival: the contact of a lead their program runs.
registry.category("web_tour.tours").add("crm_regulation_marketer_revival_tour", {
    steps: () => [
        {
            trigger:
                ".o_list_view .o_data_row:contains(Tour Nurtured Lead):contains(tour.client@x.com)",
            content: "the lead in revival, with its customer's e-mail",
        },
    ],
});
