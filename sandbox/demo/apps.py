from django.apps import AppConfig
from django.db.models.signals import post_migrate


def create_cache_table(sender, using="default", **kwargs):
    """The sandbox counts its rate limit in Django's database cache: ``migrate`` creates its table too."""
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class DemoConfig(AppConfig):
    name = "demo"
    label = "demo"
    verbose_name = "Sandbox demo content"

    def ready(self):
        from django.apps import apps

        # This app has no models, so migrate sends it no signal: hook onto the plugin's.
        post_migrate.connect(create_cache_table, sender=apps.get_app_config("wagtail_training_pay"))
