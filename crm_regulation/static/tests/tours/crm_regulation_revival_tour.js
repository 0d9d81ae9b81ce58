import { registry } from "@web/core/registry";

// A head of sales revives a lost lead in a revival program from its form: back to work in the
// program's re-entry stage.
registry.category("web_tour.tours").add("crm_regulation_revival_revive_tour", {
    steps: () => [
        {
            trigger: ".o_form_view .o_form_statusbar button[name=action_revive]",
            content: "Revive",
            run: "click",
        },
        {
            trigger:
                ".o_form_view:not(:has(button[name=action_revive])) .o_statusbar_status button.o_arrow_button_current:contains(Qualification)",
            content: "back to work in the re-entry stage, no Revive button any more",
        },
    ],
});

// A marketer opens a program's figures from its form: the revival report per step.
registry.category("web_tour.tours").add("crm_regulation_revival_figures_tour", {
    steps: () => [
        {
            trigger: ".o_list_view .o_data_row td[name=name]:contains(Tour families)",
            content: "the revival programs",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=action_view_figures]:contains(Steps Run)",
            content: "the program's figures",
            run: "click",
        },
        {
            trigger: ".o_pivot th:contains(Revival: family offer)",
            content: "one row per step",
        },
        {
            trigger: ".o_pivot th:contains(Revived)",
            content: "revived leads per step",
        },
    ],
});
