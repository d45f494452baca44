"""Settings of a benchmark on SQLite: the project's own, with the sandbox's apps in a database file
of their own (BENCH_SANDBOX_DATABASE_URL). The sandbox stands in for LinkedIn's and the CRM's
servers; sharing the product's file, its writes (500 CRM leads per createLeads) would hold SQLite's
one write lock against the product's, which no real server does. The product's code is the same:
it never touches the sandbox's tables."""

import environ

from leadsync_project.settings import *  # noqa: F401,F403
from leadsync_project.settings import DATABASES

SANDBOX_APPS = {"sandbox_linkedin", "sandbox_crm"}

DATABASES["sandbox"] = environ.Env().db("BENCH_SANDBOX_DATABASE_URL")
DATABASES["sandbox"]["OPTIONS"] = dict(DATABASES["default"].get("OPTIONS", {}))
DATABASE_ROUTERS = ["bench.split_settings.SandboxRouter"]


class SandboxRouter:
    @staticmethod
    def _alias(model):
        return "sandbox" if model._meta.app_label in SANDBOX_APPS else "default"

    def db_for_read(self, model, **hints):
        return self._alias(model)

    def db_for_write(self, model, **hints):
        return self._alias(model)

    def allow_relation(self, a, b, **hints):
        return self._alias(type(a)) == self._alias(type(b))

    def allow_migrate(self, db, app_label, **hints):
        return db == ("sandbox" if app_label in SANDBOX_APPS else "default")

# An experiment's knob, of the benchmark only: more PRAGMAs for the product's connections (e.g.
# BENCH_SQLITE_PRAGMAS="PRAGMA cache_size=-32768;"), to measure a setting before the product takes it.
_pragmas = environ.Env().str("BENCH_SQLITE_PRAGMAS", default="")
if _pragmas and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {**DATABASES["default"]["OPTIONS"],
                                       "init_command": DATABASES["default"]["OPTIONS"].get("init_command", "") + _pragmas}
