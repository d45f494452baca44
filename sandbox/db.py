"""The database the sandbox writes to: the project's own, unless a database router sends the
sandbox's two apps elsewhere (the benchmark does, so that the stand-ins for LinkedIn's and the
CRM's servers do not share the product's SQLite write lock, as real servers would not). A router
must send both apps to one database."""

from functools import wraps

from django.db import router, transaction


def alias() -> str:
    from sandbox.crm.models import CrmAccount

    return router.db_for_write(CrmAccount)


def atomic(function=None):
    """transaction.atomic on the sandbox's database: `with atomic():` or `@atomic`."""
    if function is None:
        return transaction.atomic(using=alias())

    @wraps(function)
    def in_transaction(*args, **kwargs):
        with transaction.atomic(using=alias()):
            return function(*args, **kwargs)

    return in_transaction
