"""The apps are layered: nothing imports an app above its own.

accounts/ops -> patients -> notifications -> scheduling -> assessments -> prescriptions ->
followups -> visits -> the composition apps (desk, chart, billing) -> reports. A lower app
that needs a higher one's help asks through a signal or a registry the higher app fills in its ``AppConfig.ready()``.
The project package ``hipclinic/`` is below every app (only its ``urls.py`` wires them).

The check reads every module's imports, at any depth (imports inside functions too), and
is shown to catch an upward import planted in a copy of the tree.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent

# Layer of each app: an app may import apps of a lower number only (its own layer's peers neither).
LAYERS = {
    "accounts": 0, "ops": 0,
    "patients": 1,
    "notifications": 2,
    "scheduling": 3,
    "assessments": 4,
    "prescriptions": 5,
    "followups": 6,
    "visits": 7,
    "desk": 8, "chart": 8, "billing": 8,
    "reports": 9,  # the clinic's numbers read billing's charges too
    "fhir": 9, "webhooks": 9, "calendars": 9,  # interoperability: they read (and hear from) every app below
}
SAME_LAYER_ALLOWED = {("ops", "accounts")}  # the access log and the policy's history name staff users
PROJECT_MODULES_THAT_WIRE_APPS = {"urls.py"}


def imported_apps(source: str) -> list[tuple[int, str]]:
    """(line, app) for every ``apps.<app>`` a module imports."""
    found = []
    for node in ast.walk(ast.parse(source)):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "apps" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


def upward_imports(root: Path) -> list[str]:
    wrong = []
    for path in sorted((root / "apps").rglob("*.py")):
        own = path.relative_to(root / "apps").parts[0]
        if own not in LAYERS:
            continue
        for line, other in imported_apps(path.read_text()):
            if other == own or (own, other) in SAME_LAYER_ALLOWED:
                continue
            if other not in LAYERS or LAYERS[other] >= LAYERS[own]:
                wrong.append(f"{path.relative_to(root)}:{line} {own} -> {other}")
    for path in sorted((root / "hipclinic").glob("*.py")):
        if path.name in PROJECT_MODULES_THAT_WIRE_APPS:
            continue
        for line, other in imported_apps(path.read_text()):
            wrong.append(f"{path.relative_to(root)}:{line} hipclinic -> {other}")
    return wrong


def test_no_module_imports_an_app_above_its_own():
    assert upward_imports(ROOT) == []


def test_every_installed_app_has_a_layer_and_they_are_installed_in_layer_order():
    installed = [app.split(".", 1)[1] for app in settings.INSTALLED_APPS if app.startswith("apps.")]
    assert set(installed) == set(LAYERS)
    assert [LAYERS[app] for app in installed] == sorted(LAYERS[app] for app in installed)


@pytest.mark.parametrize(
    ("module", "planted", "expected"),
    [
        ("apps/patients/services.py", "from apps.scheduling.models import Appointment\n",
         "apps/patients/services.py:1 patients -> scheduling"),
        # Inside a function, where a quick fix would hide it.
        ("apps/notifications/services.py", "def _later():\n    from apps.followups import reminders\n",
         "apps/notifications/services.py:2 notifications -> followups"),
        ("apps/desk/views.py", "import apps.chart.admin\n", "apps/desk/views.py:1 desk -> chart"),
        ("apps/ops/models.py", "from apps.patients.models import Patient\n", "apps/ops/models.py:1 ops -> patients"),
        ("hipclinic/api.py", "from apps.patients import selectors\n", "hipclinic/api.py:1 hipclinic -> patients"),
    ],
    ids=["module level", "inside a function", "between composition apps", "ops to patients", "project package"],
)
def test_the_check_catches_an_upward_import_planted_in_a_copy_of_the_tree(tmp_path, module, planted, expected):
    for folder in ("apps", "hipclinic"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    target = tmp_path / module
    target.write_text(planted + target.read_text())

    assert upward_imports(tmp_path) == [expected]
