import { registry } from "@web/core/registry";

// The rollout of a team: in audit, the team form says so and enforces with one button.
registry.category("web_tour.tours").add("crm_regulation_rollout_tour", {
    steps: () => [
        {
            trigger: ".o_form_view div[name=regulation_rollout]:contains(Sales regulation: audit.)",
            content: "the team is in audit: its would-be refusals of the last four weeks are shown",
        },
        {
            trigger: ".o_form_view .oe_stat_button[name=action_view_compliance]:contains(Compliance)",
            content: "the compliance of the last four weeks",
        },
        {
            trigger: "div[name=regulation_rollout] button[name=action_regulation_enforce]",
            content: "enforce the regulation",
            run: "click",
        },
        {
            trigger: ".modal-footer .btn-primary",
            content: "confirm",
            run: "click",
        },
        {
            trigger: ".o_form_view:not(:has(div[name=regulation_rollout]))",
            content: "enforcing: the banner is gone",
        },
    ],
});
