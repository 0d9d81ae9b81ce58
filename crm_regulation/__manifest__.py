{
    "name": "CRM Regulation",
    "summary": "Make the sales team work by its sales regulation: stage history, "
    "transition rules, disqualification, SLAs, roles and KPI digests",
    "version": "19.0.1.1.0",
    "category": "Sales/CRM",
    "website": "https://github.com/crm-regulation/crm_regulation",
    "author": "CRM Regulation team",
    "maintainers": ["crm-regulation"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["crm", "mail", "resource", "web"],
    "external_dependencies": {"python": ["xlsxwriter"]},
    "data": [
        "security/crm_regulation_security.xml",
        "security/ir.model.access.csv",
        "data/mail_message_subtype_data.xml",
        "views/crm_lead_stage_history_views.xml",
        "views/crm_regulation_rule_views.xml",
        "views/crm_lead_views.xml",
        "views/menus.xml",
        "report/sales_regulation_report.xml",
    ],
    "demo": [
        "demo/crm_regulation_demo.xml",
        "demo/crm_regulation_rule_demo.xml",
    ],
    "post_init_hook": "post_init_hook",
}
