import { registry } from "@web/core/registry";

// A salesperson types a phone as they say it: saved in the standard's format; a phone with
// letters is refused with the reason, and nothing is saved.
registry.category("web_tour.tours").add("crm_regulation_data_standard_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_field_widget[name=phone] input",
            content: "type the phone as said",
            run: "edit 8 900 123 45 67",
        },
        {
            trigger: ".o_form_button_save",
            content: "save",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=phone] input:value(+7 (900) 123-45-67)",
            content: "saved in the standard's format",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=phone] input",
            content: "a phone with letters",
            run: "edit 8 900 CALL NOW",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=email_from] input",
            content: "leave the field",
            run: "click",
        },
        {
            trigger: ".o_form_button_save",
            content: "save",
            run: "click",
        },
        {
            trigger: ".modal:contains(it contains letters):contains(Nothing was saved)",
            content: "refused, with the reason",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            content: "close the message",
            run: "click",
        },
        {
            trigger: ".o_form_button_cancel",
            content: "discard",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=phone] input:value(+7 (900) 123-45-67)",
            content: "the saved number is still there",
        },
    ],
});
