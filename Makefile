# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: run test install install-dev

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("hipclinic needs Python 3.11 or newer; set PYTHON=python3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Runs the product: web on 127.0.0.1:$(PORT), a Celery worker and Celery beat, in the
# foreground. DEBUG defaults to on here (a developer's or demo machine).
run: export DEBUG ?= 1
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "  hipclinic is starting at http://127.0.0.1:$(PORT)/"
	@echo "  demo logins (password hipclinic-demo): frontdesk, therapist, assistant, manager"
	@echo "  Ctrl-C stops the web server, the worker and beat."
	@echo ""
	exec $(BIN)/honcho --procfile Procfile.dev start --port $(PORT)

# Lints, checks for missing migrations and runs the whole test suite.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python -m pytest $(PYTEST_ARGS)
