"""Content-addressed media store of a project: media/<sha256><ext>.

Files are copied in under their SHA-256 (identical imports are stored once), never
modified afterwards, and written atomically (temp file + os.replace), so a crash leaves
either no file or a complete one. Validation happens BEFORE anything is written: the
caller decodes/analyses the source file first and only then stores it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InputError
from core.fsutil import atomic_path, check_input_file
from core.types import AudioFeatures, FaceRig, Waveform
from studio import pipeline, safepaths
from studio.cache import Compaction, key_of
from studio.db.models import AudioTrack, Portrait, Timeline
from studio.records import AudioInfo, PortraitInfo
from studio.rows import get_row

if TYPE_CHECKING:
    from studio.project import Project

_EXT_RE = re.compile(r"^\.[a-z0-9]{1,10}$")


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as exc:
        raise InputError(path, f"cannot be read ({exc.strerror or exc})") from None
    return h.hexdigest()


def clean_ext(path: Path) -> str:
    ext = path.suffix.lower()
    return ext if _EXT_RE.match(ext) else ""


def media_name(sha: str, ext: str) -> str:
    return f"{sha}{ext}"


def check_source(path: str | Path, what: str = "a media file") -> Path:
    """The import source as a Path; InputError unless it is a regular file (a FIFO or a
    device would make hashing block or never end)."""
    return check_input_file(path, what)


def store(src: Path, media_dir: Path, sha: str, ext: str) -> tuple[Path, bool]:
    """Copy `src` into media/ as <sha><ext>. Returns (stored path, created_now). The copy
    is re-hashed, so a file changed while importing is refused instead of mis-stored."""
    media_dir.mkdir(parents=True, exist_ok=True)
    dest = media_dir / media_name(sha, ext)
    if dest.exists():
        return dest, False
    with atomic_path(dest, suffix=".part", mode=0o444) as tmp:  # media are never modified
        shutil.copyfile(src, tmp)
        if sha256_of(tmp) != sha:
            raise InputError(src, "changed while it was being imported; try again")
    return dest, True


def discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.chmod(path, 0o644)
        path.unlink()


# ---------------------------------------------------------------- the asset store
class AssetStore:
    """Portraits and audio tracks of one project: import (validated, deduplicated),
    removal, landmarks, transcripts, and their analysis caches (FaceRig, Waveform,
    AudioFeatures). Owned by `studio.project.Project` (`project.assets`)."""

    def __init__(self, col: Project):
        self.col = col

    @property
    def _folder(self) -> Path:
        return self.col.path

    def _get(self, model, ident, what: str):
        return get_row(self.col.db, model, ident, what, self._folder.name)

    def _portrait_info(self, r: Portrait) -> PortraitInfo:
        return PortraitInfo(
            id=r.id, name=r.name, sha256=r.sha256,
            path=safepaths.media_path(self._folder, "portraits", r.id, r.sha256, r.ext),
            width=int(r.width), height=int(r.height), has_landmarks=bool(r.landmarks_json),
            created=float(r.created),
        )

    def _audio_info(self, r: AudioTrack) -> AudioInfo:
        return AudioInfo(
            id=r.id, name=r.name, sha256=r.sha256,
            path=safepaths.media_path(self._folder, "audio_tracks", r.id, r.sha256, r.ext),
            duration=float(r.duration), sample_rate=int(r.sample_rate),
            transcript=r.transcript, created=float(r.created),
        )

    def add_portrait(
        self, path: str | Path, name: str | None = None, landmarks: str | Path | None = None
    ) -> PortraitInfo:
        """Import an image (validated by core: decodable, a face found). Identical files are
        stored once; importing the same file again returns the existing portrait.
        `landmarks` is an optional JSON file of user landmarks (68 or 5 points).
        A failed import leaves nothing behind (no media file, no row)."""
        db = self.col.db
        src = check_source(path, "an image file")
        points = pipeline.load_landmarks(landmarks) if landmarks is not None else None
        sha = sha256_of(src)
        existing = db.run_read(
            lambda s: s.execute(select(Portrait).where(Portrait.sha256 == sha)).scalar())
        if existing is not None:
            if points is not None:
                self.set_portrait_landmarks(existing.id, points)
                return self.portrait(existing.id)
            return self._portrait_info(existing)
        image = pipeline.load_image(src)  # InputError for unreadable images
        try:
            rig = pipeline.analyze_face(image, landmarks=points)  # InputError "no face found"
        except InputError as exc:
            if exc.path is None:  # core does not know the file name: name it for the user
                raise InputError(src, exc.problem) from None
            raise
        ext = clean_ext(src)
        safepaths.new_file_path(self._folder, "media", media_name(sha, ext))
        stored, created = store(src, self._folder / "media", sha, ext)
        lm_json = None if points is None else json.dumps(np.asarray(points).tolist())
        row = Portrait(
            name=(name or src.stem)[:200], sha256=sha, ext=ext, width=int(image.shape[1]),
            height=int(image.shape[0]), landmarks_json=lm_json,
            analysis_json=json.dumps(_rig_summary(rig)), created=time.time(),
        )
        row, inserted = self._insert_asset(Portrait, row, stored, created)
        if not inserted:
            return self._portrait_info(row)
        self.col.cache.put(_rig_key(sha, lm_json), rig, self._rig_compaction(row))
        return self._portrait_info(row)

    def _insert_asset(self, model, row, stored: Path, created: bool):
        """Insert a freshly imported asset row; returns (row, inserted).

        If another process imported the same content a moment ago (sha256 is unique), its
        row is returned instead: the stored file holds the same bytes, so it is theirs too.
        Any other failure removes a media file this import created, so a failed import
        leaves nothing behind."""

        def insert(s: Session):
            s.add(row)
            s.flush()
            return row

        sha = row.sha256
        try:
            return self.col.db.run_write(insert), True
        except IntegrityError:
            other = self.col.db.run_read(
                lambda s: s.execute(select(model).where(model.sha256 == sha)).scalar())
            if other is None:
                raise
            return other, False
        except BaseException:
            if created:
                discard(stored)
            raise

    def add_audio(
        self, path: str | Path, name: str | None = None, transcript: str | None = None
    ) -> AudioInfo:
        """Import a speech recording (validated by core.audio.load). Deduplicated like
        portraits; a failed import leaves nothing behind."""
        from core.audio.text import check_transcript

        src = check_source(path, "an audio file")
        transcript = check_transcript(transcript)  # bounded before any work
        sha = sha256_of(src)
        existing = self.col.db.run_read(
            lambda s: s.execute(select(AudioTrack).where(AudioTrack.sha256 == sha)).scalar())
        if existing is not None:
            if transcript is not None and transcript != existing.transcript:
                self.set_transcript(existing.id, transcript)
                return self.audio(existing.id)
            return self._audio_info(existing)
        wave = pipeline.load_audio(src)  # InputError for unreadable audio
        rate = pipeline.source_sample_rate(src)
        ext = clean_ext(src)
        safepaths.new_file_path(self._folder, "media", media_name(sha, ext))
        stored, created = store(src, self._folder / "media", sha, ext)
        row = AudioTrack(
            name=(name or src.stem)[:200], sha256=sha, ext=ext, duration=float(wave.duration),
            sample_rate=rate, transcript=transcript, created=time.time(),
        )
        row, inserted = self._insert_asset(AudioTrack, row, stored, created)
        if not inserted:
            return self._audio_info(row)
        self.col.cache.put(key_of("wave", sha=sha), wave)
        return self._audio_info(row)

    def portraits(self) -> list[PortraitInfo]:
        rows = self.col.db.run_read(
            lambda s: s.execute(select(Portrait).order_by(Portrait.id)).scalars().all())
        return [self._portrait_info(r) for r in rows]

    def portrait(self, portrait_id: int) -> PortraitInfo:
        return self._portrait_info(self._get(Portrait, portrait_id, "portrait"))

    def audio_tracks(self) -> list[AudioInfo]:
        rows = self.col.db.run_read(
            lambda s: s.execute(select(AudioTrack).order_by(AudioTrack.id)).scalars().all())
        return [self._audio_info(r) for r in rows]

    def audio(self, audio_id: int) -> AudioInfo:
        return self._audio_info(self._get(AudioTrack, audio_id, "audio track"))

    def _remove_asset(self, model, ident: int, what: str, column) -> None:
        db = self.col.db
        row = self._get(model, ident, what)
        # checked before the row goes: a crafted row must not make us delete another file
        safepaths.media_path(self._folder, model.__tablename__, row.id, row.sha256, row.ext)
        n = db.run_read(lambda s: s.scalar(
            select(func.count()).select_from(Timeline).where(column == row.id)))
        if n:
            raise InputError(None, f"{what} {row.id} ({row.name}) is used by {n} timeline(s); "
                             "remove them first")
        db.run_write(lambda s: s.execute(delete(model).where(model.id == row.id)))
        # built (and checked) again right before the unlink
        discard(safepaths.media_path(self._folder, model.__tablename__, row.id,
                                     row.sha256, row.ext))

    def remove_portrait(self, portrait_id: int) -> None:
        """Remove a portrait and its media file. Refused (InputError) while a timeline
        uses it."""
        self._remove_asset(Portrait, portrait_id, "portrait", Timeline.portrait_id)

    def remove_audio(self, audio_id: int) -> None:
        """Like remove_portrait, for audio."""
        self._remove_asset(AudioTrack, audio_id, "audio track", Timeline.audio_id)

    def set_portrait_landmarks(self, portrait_id: int, points: np.ndarray | list | None) -> None:
        """Set (or clear with None) user landmarks: [68, 2] or [5, 2] image pixels. The face
        is re-analysed with them first (bad points raise InputError and change nothing).
        Segments of timelines on this portrait become stale (the spec covers landmarks)."""
        row = self._get(Portrait, portrait_id, "portrait")
        lm_json = None
        arr = None
        if points is not None:
            arr = np.asarray(points, dtype=np.float32)
            if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] not in (5, 68):
                raise InputError(None, f"landmarks must be 68 or 5 (x, y) points, got shape "
                                 f"{tuple(arr.shape)}")
            lm_json = json.dumps(arr.round(3).tolist())
        key = _rig_key(row.sha256, lm_json)
        rig = self.col.cache.get(key, self._rig_compaction(row))
        if rig is None:
            image = pipeline.load_image(safepaths.media_path(
                self._folder, "portraits", row.id, row.sha256, row.ext))
            rig = pipeline.analyze_face(image, landmarks=arr)
            self.col.cache.put(key, rig, self._rig_compaction(row))

        def upd(s: Session) -> None:
            r = s.get(Portrait, row.id)
            r.landmarks_json = lm_json
            r.analysis_json = json.dumps(_rig_summary(rig))

        self.col.db.run_write(upd)

    def portrait_landmarks_json(self, portrait_id: int) -> str | None:
        """The user landmarks of a portrait as stored (part of spec and motion keys)."""
        return self._get(Portrait, portrait_id, "portrait").landmarks_json

    def set_transcript(self, audio_id: int, text: str | None) -> None:
        """Set (or clear) the transcript used for forced alignment."""
        from core.audio.text import check_transcript

        row = self._get(AudioTrack, audio_id, "audio track")
        text = check_transcript(text)

        def upd(s: Session) -> None:
            s.get(AudioTrack, row.id).transcript = text

        self.col.db.run_write(upd)

    def portrait_rig(self, portrait_id: int) -> FaceRig:
        """The FaceRig of a portrait (cached per content hash + landmarks)."""
        row = self._get(Portrait, portrait_id, "portrait")
        key = _rig_key(row.sha256, row.landmarks_json)

        def compute() -> FaceRig:
            image = pipeline.load_image(safepaths.media_path(
                self._folder, "portraits", row.id, row.sha256, row.ext))
            pts = None if not row.landmarks_json else np.asarray(
                json.loads(row.landmarks_json), dtype=np.float32)
            return pipeline.analyze_face(image, landmarks=pts)

        return self.col.cache.get_or_compute(key, compute, compaction=self._rig_compaction(row))

    def _rig_compaction(self, row: Portrait) -> Compaction:
        """Rigs are cached without pixels (a few KB, not 20+ MB) and restored exactly
        from the portrait file."""
        folder, pid, sha, ext = self._folder, row.id, row.sha256, row.ext
        return Compaction(strip=pipeline.strip_rig,
                          restore=lambda rig: pipeline.restore_rig(
                              rig, safepaths.media_path(folder, "portraits", pid, sha, ext)))

    def portrait_image(self, portrait_id: int) -> np.ndarray:
        """The portrait as [H, W, 3] uint8 RGB (for thumbnails)."""
        return pipeline.load_image(self.portrait(portrait_id).path)

    def waveform(self, audio_id: int) -> Waveform:
        """The audio as a 16 kHz mono Waveform (cached)."""
        info = self.audio(audio_id)
        return self.col.cache.get_or_compute(key_of("wave", sha=info.sha256),
                                             lambda: pipeline.load_audio(info.path))

    def audio_features(self, audio_id: int, fps: float = 25) -> AudioFeatures:
        """AudioFeatures at `fps` (cached per content hash + fps + transcript)."""
        info = self.audio(audio_id)
        key = key_of("features", sha=info.sha256, fps=float(fps), transcript=info.transcript)

        def compute() -> AudioFeatures:
            feats = pipeline.analyze_audio(self.waveform(audio_id), float(fps), info.transcript)
            self._store_audio_summary(info.id, feats)
            return feats

        return self.col.cache.get_or_compute(key, compute)

    def _store_audio_summary(self, audio_id: int, feats: AudioFeatures) -> None:
        """A small, queryable summary of the analysis in the db (the arrays live in cache/)."""
        summary = {
            "fps": float(feats.fps), "n_frames": int(feats.n_frames),
            "speech_seconds": round(float(np.sum(np.asarray(feats.vad) >= 0.5)) / feats.fps, 2),
            "words": len(feats.words), "phones": len(feats.phones), "aligned": feats.aligned,
        }

        def upd(s: Session) -> None:
            r = s.get(AudioTrack, audio_id)
            if r is not None:
                r.analysis_json = json.dumps(summary)

        self.col.db.run_write(upd)


def _rig_summary(rig: FaceRig) -> dict:
    return {
        "box": [float(v) for v in rig.box],
        "landmarks": np.asarray(rig.landmarks, dtype=float).round(2).tolist(),
        "source": rig.source,
        "warnings": list(rig.warnings),
        "size": list(rig.size),
    }


def _rig_key(sha: str, lm_json: str | None) -> str:
    # landmarker: rigs cached before the Face Mesh replaced dlib's 68-point model are
    # recomputed (they lack mesh3d and carry the old model's points)
    return key_of("rig", sha=sha, landmarks=lm_json, landmarker="facemesh-1")
