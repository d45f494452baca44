"""The LeadSync admin site: its home is the dashboard (leads.dashboard), and its app list puts the
product first and the sandbox's simulator apart."""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig

PRODUCT_ORDER = ("leads", "mappings", "connectors")


class LeadSyncAdminSite(admin.AdminSite):
    site_header = site_title = "LeadSync"
    index_title = "Dashboard"

    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        for app in apps:
            app["sandbox"] = app["app_label"].startswith("sandbox_")

        def rank(app):
            label = app["app_label"]
            if app["sandbox"]:
                return (2, 0, app["name"])
            if label in PRODUCT_ORDER:
                return (0, PRODUCT_ORDER.index(label), app["name"])
            return (1, 0, app["name"])
        return sorted(apps, key=rank)

    def index(self, request, extra_context=None):
        from leads.admin.charts import bar_chart, stacked_chart
        from leads.dashboard import dashboard

        apps = self.get_app_list(request)
        context = {"product_apps": [a for a in apps if not a["sandbox"]],
                   "sandbox_apps": [a for a in apps if a["sandbox"]]}
        if request.user.is_superuser or request.user.has_perm("leads.view_lead"):
            data = dashboard()
            context["dashboard"] = data
            context["leads_chart"] = bar_chart(data["leads_per_day"])
            context["outcomes_chart"] = stacked_chart(data["outcomes_per_day"])
            context["show_connections"] = request.user.has_perm("connectors.view_linkedinconnection")
            context["show_crm_connections"] = request.user.has_perm("connectors.view_crmconnection")
        return super().index(request, {**context, **(extra_context or {})})


class LeadSyncAdminConfig(AdminConfig):
    default_site = "leadsync_project.admin.LeadSyncAdminSite"
