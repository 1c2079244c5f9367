from django.apps import AppConfig


class ChartConfig(AppConfig):
    """The patient's chart: what every other app knows about one patient, put together.

    A composition app, installed last: it may use every app below it, and none of them
    uses it. The patient's admin page gets its appointments, intake action, progress chart
    and adherence here; ``seed_demo`` builds the whole demo clinic.
    """

    name = "apps.chart"
    label = "chart"
    verbose_name = "Patient chart"
