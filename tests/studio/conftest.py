"""Fixtures for the studio tests: a template project built once per session (portrait
hallo_2.jpg + speech hallo_1.wav, analysed, one 256 px warp timeline), copied per test so
each test gets a fresh project without re-running face/audio analysis."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.project import Project

SIZE = 256


class CountingEngine:
    """Wraps a real engine and counts the frames/calls it is asked to render."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.calls: list[tuple[int, int]] = []

    def available(self):
        return self.inner.available()

    def render(self, request, frames=None, progress=None, cancel=None):
        self.calls.append((frames.start, frames.stop))
        return self.inner.render(request, frames=frames, progress=progress, cancel=cancel)


@pytest.fixture(scope="session")
def template_project(samples, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("template") / "proj"
    with Project.create(folder, name="template") as p:
        por = p.add_portrait(samples / "portraits" / "hallo_2.jpg")
        aud = p.add_audio(samples / "audio" / "hallo_1.wav")
        tl = p.new_timeline(por.id, aud.id, size=SIZE)
        p.base_motion(tl.id)  # cache the plan
        p.checkpoint()
    return folder


@pytest.fixture
def project_dir(template_project, tmp_path) -> Path:
    dest = tmp_path / "proj"
    shutil.copytree(template_project, dest)
    return dest


@pytest.fixture
def project(project_dir):
    p = Project.open(project_dir)
    yield p
    p.close()


@pytest.fixture
def counting_factory():
    """engine_factory for JobRunner that wraps real engines in CountingEngine; the
    created engines are collected in factory.engines."""
    from core import engines

    made: list[CountingEngine] = []

    def factory(name):
        e = CountingEngine(engines.create(name))
        made.append(e)
        return e

    factory.engines = made
    return factory
