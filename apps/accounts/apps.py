from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, using="default", **kwargs):
    from apps.accounts.roles import sync_role_groups

    sync_role_groups()


class AccountsConfig(AppConfig):
    name = "apps.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"

    def ready(self):
        # After every migrate (and every test-database flush), bring the role groups'
        # permissions in line with ROLE_PERMISSIONS; later apps' permissions exist only then.
        post_migrate.connect(_sync_roles, dispatch_uid="accounts.sync_roles")
