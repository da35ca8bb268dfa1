"""ORM models of project.db. They never leave `studio` (the API returns studio.records).

Schema changes: edit these models, then add a migration under studio/migrations/versions/
(`alembic -c studio/migrations/alembic.ini revision --autogenerate -m ...` against an
up-to-date db); tests/studio/test_migrations.py fails when models and migrations differ.
Times are unix seconds (float); JSON blobs are TEXT.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Meta(Base):
    """Project-level key/value facts (name, created, format version)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


class Portrait(Base):
    __tablename__ = "portraits"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    ext: Mapped[str] = mapped_column(String(16), default="")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    # user landmarks [[x, y], ...] (68 or 5 points) overriding the detector, JSON
    landmarks_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # cached analysis summary (box, 68 landmarks, source, warnings) as JSON; the full FaceRig
    # (image + masks) is cached in cache/ keyed by content hash + landmarks
    analysis_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[float] = mapped_column(Float, default=0.0)


class AudioTrack(Base):
    __tablename__ = "audio_tracks"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    ext: Mapped[str] = mapped_column(String(16), default="")
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    sample_rate: Mapped[int] = mapped_column(Integer, default=0)
    transcript: Mapped[str | None] = mapped_column(Text, nullable=True)
    # cached analysis summary (speech regions...) as JSON; features live in cache/
    analysis_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    created: Mapped[float] = mapped_column(Float, default=0.0)
    # a track made from a script (studio.scripts): the sentences, each one's audio span and
    # sentence-audio file, voice, rate, and the previous versions for undo, as JSON
    script_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class EditPreset(Base):
    __tablename__ = "presets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prompt: Mapped[str] = mapped_column(Text, default="")
    negative_prompt: Mapped[str] = mapped_column(Text, default="")
    strength: Mapped[float] = mapped_column(Float, default=1.0)
    smile: Mapped[float] = mapped_column(Float, default=0.0)
    brows: Mapped[float] = mapped_column(Float, default=0.0)
    head_motion: Mapped[float] = mapped_column(Float, default=1.0)
    blink_rate: Mapped[float] = mapped_column(Float, default=1.0)
    # migration 0004: the rest of the expression (emotion words in the prompt still apply
    # where these stay at their defaults)
    emotion: Mapped[str] = mapped_column(String(32), default="neutral",
                                         server_default="neutral")
    intensity: Mapped[float] = mapped_column(Float, default=0.7, server_default="0.7")
    expressiveness: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    gaze: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    created: Mapped[float] = mapped_column(Float, default=0.0)


class Timeline(Base):
    __tablename__ = "timelines"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    portrait_id: Mapped[int] = mapped_column(ForeignKey("portraits.id", ondelete="RESTRICT"))
    audio_id: Mapped[int] = mapped_column(ForeignKey("audio_tracks.id", ondelete="RESTRICT"))
    engine: Mapped[str] = mapped_column(String(64), default="warp")
    fps: Mapped[int] = mapped_column(Integer, default=25)
    size: Mapped[int] = mapped_column(Integer, default=512)
    preset_id: Mapped[int | None] = mapped_column(
        ForeignKey("presets.id", ondelete="SET NULL"), nullable=True
    )
    seed: Mapped[int] = mapped_column(Integer, default=0)
    n_frames: Mapped[int] = mapped_column(Integer, default=0)
    settings_json: Mapped[str] = mapped_column(Text, default="{}")
    created: Mapped[float] = mapped_column(Float, default=0.0)


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_timeline_start", "timeline_id", "start_frame"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timeline_id: Mapped[int] = mapped_column(ForeignKey("timelines.id", ondelete="CASCADE"))
    start_frame: Mapped[int] = mapped_column(Integer)
    end_frame: Mapped[int] = mapped_column(Integer)
    preset_id: Mapped[int | None] = mapped_column(
        ForeignKey("presets.id", ondelete="SET NULL"), nullable=True
    )
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expression_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class Render(Base):
    """A finished segment render. Keyed by spec hash (the file is renders/<hash>.mp4), so a
    segment whose spec comes back (undo) finds its render again. Inserted only after the
    file is in place; `status` becomes "missing" when the file disappears."""

    __tablename__ = "renders"
    __table_args__ = (Index("ix_renders_timeline_spec", "timeline_id", "spec_hash"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timeline_id: Mapped[int] = mapped_column(ForeignKey("timelines.id", ondelete="CASCADE"))
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    spec_hash: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(String(300))  # relative to the project folder
    status: Mapped[str] = mapped_column(String(16), default="done", index=True)
    start_frame: Mapped[int] = mapped_column(Integer, default=0)
    end_frame: Mapped[int] = mapped_column(Integer, default=0)
    render_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    created: Mapped[float] = mapped_column(Float, default=0.0)


class Job(Base):
    __tablename__ = "jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    timeline_id: Mapped[int] = mapped_column(
        ForeignKey("timelines.id", ondelete="CASCADE"), index=True
    )
    segment_id: Mapped[int | None] = mapped_column(
        ForeignKey("segments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="render")
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    spec_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    render_id: Mapped[int | None] = mapped_column(
        ForeignKey("renders.id", ondelete="SET NULL"), nullable=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reused: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created: Mapped[float] = mapped_column(Float, default=0.0)
    started: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat: Mapped[float | None] = mapped_column(Float, nullable=True)
