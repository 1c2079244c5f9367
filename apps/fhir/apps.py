from django.apps import AppConfig


class FhirConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.fhir"
    verbose_name = "FHIR R4"

    def ready(self):
        from apps.fhir import demo
        from hipclinic.demo import register_demo_seeder

        register_demo_seeder(demo.seed)
