"""Script tracks: an audio track synthesised from typed words, kept editable.

    info = project.add_script("Hello there. How are you?", voice=None, rate=1.0)
    edit = project.edit_script(info.id, "Hello there. How are you today?")
    edit.changed, edit.stale        # re-synthesised sentences; segments to re-render
    project.undo_script(info.id)    # the previous script, audio and segment layout

Why sentence by sentence: an edit re-synthesises only the sentences whose text changed
(core.tts.update_sentences) and splices the track again, so the audio before the edit is
bit-identical and the audio after it is the same samples shifted. Each sentence starts on
a QUANTUM_S grid (the pause after a sentence is stretched to the next grid line), so that
shift is a whole number of video frames at 25 and 30 fps: the segments after the edit keep
their renders (moved in time, recorded under their new spec hashes) and only the segments
that overlap the changed sentences are re-rendered.

Storage: the spliced track is a 16-bit WAV in media/ (content-addressed like any import);
each sentence's raw synthesiser output is a float32 file media/<sha256>.f32 (re-splicing
needs the samples before the splice's fades); the sentences, their spans, word timings,
voice and rate are JSON in audio_tracks.script_json, with the previous versions (undo).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import InputError
from core.fsutil import atomic_path
from core.motion.stitch import stitch_motion
from core.types import Word
from studio import pipeline, safepaths
from studio.cache import key_of
from studio.db.models import AudioTrack, Render, Segment, Timeline
from studio.records import AudioInfo
from studio.rows import get_row
from studio.segments import split_at_pauses

if TYPE_CHECKING:
    from core.tts import SentenceAudio
    from studio.project import Project

SCRIPT_VERSION = 1
QUANTUM_S = 0.2
"""Sentence starts lie on this grid: 5 frames at 25 fps, 6 at 30 (whole-frame shifts)."""
MAX_UNDO = 20
MARGIN_S = 0.1
"""Silence kept with the edit on each side of changed speech (mouth anticipation and
release around the sound)."""
SENTENCE_EXT = ".f32"
TRACK_EXT = ".wav"


@dataclass(frozen=True)
class ScriptSentence:
    text: str
    start: float  # seconds in the track
    end: float
    words: tuple[Word, ...]  # absolute times
    timing: str  # "piper", "aligned" or "estimated"


@dataclass(frozen=True)
class ScriptInfo:
    """The script of an audio track (`Project.script`)."""

    audio_id: int
    text: str
    voice: str
    rate: float
    sentences: tuple[ScriptSentence, ...]
    undo_depth: int

    @property
    def words(self) -> list[Word]:
        return [w for s in self.sentences for w in s.words]


@dataclass(frozen=True)
class ScriptEdit:
    """What `edit_script`/`undo_script` did: the new track, the indices of re-synthesised
    sentences, the shift of everything after the edit, and per timeline the segments that
    must be re-rendered (`stale`) and those that kept their render (`kept`)."""

    audio: AudioInfo
    changed: tuple[int, ...]
    shift_s: float
    stale: dict[int, list[int]]
    kept: dict[int, list[int]]


def _grid_pauses(lengths: list[int], sr: int, pause: float) -> list[float]:
    """Pauses (seconds) after each sentence but the last so every sentence starts on the
    QUANTUM_S grid, at least `pause` after the previous one."""
    q = int(round(QUANTUM_S * sr))
    out, pos = [], 0
    for n in lengths[:-1]:
        end = pos + n
        nxt = int(math.ceil((end + pause * sr) / q)) * q
        out.append((nxt - end) / sr)
        pos = nxt
    return out


def _assemble(parts: list[SentenceAudio]):
    from core.tts import assemble
    from core.tts.sentences import PAUSE_S

    sr = parts[0].sample_rate
    return assemble(parts, pause=_grid_pauses([len(p.samples) for p in parts], sr, PAUSE_S))


def _wav_bytes(samples: np.ndarray, sr: int) -> bytes:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(samples, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class ScriptStore:
    """Script tracks of one project (`project.scripts`)."""

    def __init__(self, col: Project):
        self.col = col

    # ------------------------------------------------------------ media
    def _put(self, data: bytes, ext: str) -> str:
        """Store bytes in media/ under their SHA-256 (atomic, read-only); returns it."""
        sha = hashlib.sha256(data).hexdigest()
        dest = safepaths.new_file_path(self.col.path, "media", f"{sha}{ext}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            with atomic_path(dest, suffix=".part", mode=0o444) as tmp:
                tmp.write_bytes(data)
        return sha

    def _sentence_audio(self, d: dict, sr: int, voice: str, rate: float):
        """A stored sentence back as core.tts.SentenceAudio (None when its file is gone or
        was tampered with: that sentence is then synthesised again)."""
        from core.tts import SentenceAudio

        try:
            path = safepaths.media_path(self.col.path, "audio_tracks", "script", d["sha"],
                                        SENTENCE_EXT)
            data = path.read_bytes()
        except (OSError, KeyError, InputError):
            return None
        if hashlib.sha256(data).hexdigest() != d["sha"] or len(data) % 4:
            return None
        words = [Word(str(t), float(a), float(b)) for t, a, b in d["words"]]
        return SentenceAudio(text=d["text"], samples=np.frombuffer(data, "<f4").copy(),
                             sample_rate=sr, words=words, timing=d.get("timing", "piper"),
                             voice=voice, rate=rate)

    def _script_data(self, speech, text: str, rate: float) -> dict:
        sents = []
        for part, (t0, t1) in zip(speech.sentences, speech.spans, strict=True):
            sha = self._put(np.asarray(part.samples, "<f4").tobytes(), SENTENCE_EXT)
            sents.append({"text": part.text, "sha": sha, "start": t0, "end": t1,
                          "timing": part.timing,
                          "words": [[w.text, round(w.start, 6), round(w.end, 6)]
                                    for w in part.words]})
        return {"v": SCRIPT_VERSION, "text": text, "voice": speech.voice, "rate": rate,
                "sample_rate": speech.sample_rate, "sentences": sents}

    # ------------------------------------------------------------ reading
    def _row(self, audio_id: int) -> AudioTrack:
        return get_row(self.col.db, AudioTrack, audio_id, "audio track", self.col.path.name)

    def _data(self, row: AudioTrack) -> dict:
        if not row.script_json:
            raise InputError(None, f"audio track {row.id} ({row.name}) was not made from a "
                             "script")
        try:
            d = json.loads(row.script_json)
            _check_script(d)
            for h in d.get("history", []):
                _check_script(h["script"])
                if safepaths.media_problem(h["sha"], h["ext"]):
                    raise ValueError("bad audio file name in the undo history")
                float(h["duration"])
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise InputError(None, f"audio track {row.id}: its stored script is damaged "
                             f"({exc})") from None
        return d

    def script(self, audio_id: int) -> ScriptInfo:
        """The script of an audio track (InputError when it has none)."""
        row = self._row(audio_id)
        d = self._data(row)
        sents = tuple(ScriptSentence(
            text=s["text"], start=float(s["start"]), end=float(s["end"]),
            words=tuple(Word(str(t), float(s["start"]) + a, float(s["start"]) + b)
                        for t, a, b in s["words"]),
            timing=s.get("timing", "piper")) for s in d["sentences"])
        return ScriptInfo(audio_id=row.id, text=d["text"], voice=d["voice"],
                          rate=float(d["rate"]), sentences=sents,
                          undo_depth=len(d.get("history", [])))

    def has_script(self, audio_id: int) -> bool:
        return bool(self._row(audio_id).script_json)

    # ------------------------------------------------------------ writing
    def add(self, text: str, voice: str | None = None, rate: float = 1.0,
            name: str | None = None) -> AudioInfo:
        """Synthesise `text` into a new audio track whose transcript is the script."""
        from core.tts import split_sentences, synthesize_sentences
        from core.tts.synth import check_rate, check_text

        text = check_text(text)
        rate = check_rate(rate)
        parts = synthesize_sentences(split_sentences(text), voice=voice, rate=rate)
        speech = _assemble(parts)
        data = self._script_data(speech, text, rate)
        wav = _wav_bytes(speech.samples, speech.sample_rate)
        sha = self._put(wav, TRACK_EXT)
        transcript = " ".join(p.text for p in parts)
        existing = self.col.db.run_read(
            lambda s: s.execute(select(AudioTrack).where(AudioTrack.sha256 == sha)).scalar())
        if existing is not None:
            return self.col.assets.audio(existing.id)
        row = AudioTrack(name=(name or text[:40])[:200], sha256=sha, ext=TRACK_EXT,
                         duration=float(speech.duration), sample_rate=speech.sample_rate,
                         transcript=transcript, created=time.time(),
                         script_json=json.dumps(data))

        def insert(s: Session) -> int:
            s.add(row)
            s.flush()
            return row.id

        return self.col.assets.audio(self.col.db.run_write(insert))

    def edit(self, audio_id: int, text: str) -> ScriptEdit:
        """Replace the script of track `audio_id` by `text`: only changed sentences are
        synthesised; the track, transcript and every timeline using it are updated (see
        module docstring); the previous version is kept for `undo`."""
        from core.tts import update_sentences
        from core.tts.synth import check_text

        row = self._row(audio_id)
        d = self._data(row)
        text = check_text(text)
        sr, voice, rate = int(d["sample_rate"]), d["voice"], float(d["rate"])
        old_parts = [self._sentence_audio(s, sr, voice, rate) for s in d["sentences"]]
        # a sentence whose file is unreadable never matches: it is synthesised again
        usable = [p if p is not None else _placeholder(sr, voice, rate) for p in old_parts]
        parts, changed = update_sentences(usable, text, voice=voice, rate=rate)
        if not changed and [p.text for p in parts] == [s["text"] for s in d["sentences"]]:
            return ScriptEdit(self.col.assets.audio(row.id), (), 0.0, {}, {})
        speech = _assemble(parts)
        new = self._script_data(speech, text, rate)
        history = list(d.get("history", []))
        version = _version(row, d)
        # the segment boundaries of every timeline on this track, so undo restores the
        # exact layout (a re-split of the restored region at its pauses can differ)
        version["layouts"] = {
            str(t.id): [[x.start, x.end] for x in self.col.timeline_store.segments(t.id)]
            for t in self.col.db.run_read(lambda q: q.execute(
                select(Timeline).where(Timeline.audio_id == row.id)).scalars().all())}
        history.append(version)
        new["history"] = history[-MAX_UNDO:]
        sha = self._put(_wav_bytes(speech.samples, speech.sample_rate), TRACK_EXT)
        return self._replace(row, d, new, sha, float(speech.duration),
                             " ".join(p.text for p in parts), tuple(changed))

    def undo(self, audio_id: int) -> ScriptEdit:
        """Restore the previous script and audio of the track (InputError when none)."""
        row = self._row(audio_id)
        d = self._data(row)
        history = list(d.get("history", []))
        if not history:
            raise InputError(None, f"audio track {row.id}: there is no script edit to undo")
        prev = history.pop()
        new = dict(prev["script"])
        new["history"] = history
        try:
            safepaths.media_path(self.col.path, "audio_tracks", row.id, prev["sha"],
                                 prev["ext"]).stat()
        except OSError:
            raise InputError(None, f"audio track {row.id}: the previous audio file is gone; "
                             "cannot undo") from None
        olds = [s["text"] for s in d["sentences"]]
        news = [s["text"] for s in new["sentences"]]
        p, q = _common(olds, news)
        return self._replace(row, d, new, prev["sha"], float(prev["duration"]),
                             prev["transcript"], tuple(range(p, len(news) - q)),
                             layouts=prev.get("layouts"))

    def _replace(self, row: AudioTrack, old: dict, new: dict, sha: str, duration: float,
                 transcript: str, changed: tuple[int, ...],
                 layouts: dict | None = None) -> ScriptEdit:
        """Point the track at the new audio and re-lay every timeline that uses it."""
        assets = self.col.assets
        tls = self.col.db.run_read(lambda s: s.execute(
            select(Timeline).where(Timeline.audio_id == row.id)).scalars().all())
        # everything that reads media (features of the new track) happens before the write
        before = {t.id: self.col.timeline_store.segments(t.id) for t in tls}
        planner = self.col.planner
        # the motion the kept renders show (base plan of the old track), to carry over
        old_motion = {t.id: planner.motion(self.col.timeline_store.get(t.id), None)
                      for t in tls if any(x.state == "rendered" for x in before[t.id])}
        wave = _wave_of(self.col.path / "media" / f"{sha}{TRACK_EXT}")
        feats = {}
        for t in tls:
            feats[t.id] = pipeline.analyze_audio(wave, float(t.fps), transcript)
        olds = [(s["text"], float(s["start"]), float(s["end"])) for s in old["sentences"]]
        news = [(s["text"], float(s["start"]), float(s["end"])) for s in new["sentences"]]
        region = _edit_region(olds, news, float(row.duration), duration)
        stale: dict[int, list[int]] = {}
        kept: dict[int, list[int]] = {}
        carried: dict[int, tuple[int, int, int] | None] = {}

        def do(s: Session) -> None:
            r = s.get(AudioTrack, row.id)
            r.sha256, r.ext, r.duration = sha, TRACK_EXT, duration
            r.transcript, r.script_json, r.analysis_json = transcript, json.dumps(new), None
            s.flush()
            for t in tls:
                layout = layouts.get(str(t.id)) if isinstance(layouts, dict) else None
                kept[t.id], stale[t.id], carried[t.id] = _relayout(
                    s, t, before[t.id], feats[t.id], region, layout)

        try:
            self.col.db.run_write(do)
        except IntegrityError:
            raise InputError(None, "another audio track of this project already holds this "
                             "exact audio; edit that track instead") from None
        for t in tls:  # the analysis is the one the timeline will ask for: keep it
            key = key_of("features", sha=sha, fps=float(t.fps), transcript=transcript)
            self.col.cache.put(key, feats[t.id])
        for t in tls:
            if carried.get(t.id) is None or t.id not in old_motion:
                continue
            info = self.col.timeline_store.get(t.id)
            new_m = planner.motion(info, None)
            self.col.cache.put(planner.motion_key(info, None),
                               stitch_motion(old_motion[t.id], new_m, *carried[t.id],
                                             rig=self.col.assets.portrait_rig(t.portrait_id)))
        shift = region[3] - region[1]
        return ScriptEdit(assets.audio(row.id), changed, shift, stale, kept)


# ---------------------------------------------------------------- helpers
def _check_script(d) -> None:
    """ValueError unless `d` is script data as written here (a project file is hostile:
    every field read later is checked once, here)."""
    if not isinstance(d, dict) or d.get("v") != SCRIPT_VERSION:
        raise ValueError("unknown script version")
    if not isinstance(d["text"], str) or not isinstance(d["voice"], str):
        raise ValueError("text and voice must be strings")
    if not 0.5 <= float(d["rate"]) <= 2.0 or not 1000 <= int(d["sample_rate"]) <= 192000:
        raise ValueError("rate or sample rate out of range")
    if not isinstance(d["sentences"], list) or not d["sentences"]:
        raise ValueError("no sentences")
    for x in d["sentences"]:
        if not isinstance(x["text"], str) or safepaths.media_problem(x["sha"], SENTENCE_EXT):
            raise ValueError("bad sentence entry")
        if not (math.isfinite(float(x["start"])) and math.isfinite(float(x["end"]))):
            raise ValueError("bad sentence span")
        for w in x["words"]:
            if len(w) != 3 or not isinstance(w[0], str) or not all(
                    math.isfinite(float(v)) for v in w[1:]):
                raise ValueError("bad word timing")




def _placeholder(sr: int, voice: str, rate: float):
    from core.tts import SentenceAudio

    return SentenceAudio(text="\0", samples=np.zeros(0, np.float32), sample_rate=sr,
                         words=[], voice=voice, rate=rate)


def _version(row: AudioTrack, d: dict) -> dict:
    script = {k: v for k, v in d.items() if k != "history"}
    return {"sha": row.sha256, "ext": row.ext, "duration": float(row.duration),
            "transcript": row.transcript, "script": script}


def _wave_of(path):
    return pipeline.load_audio(path)


def _common(old: list[str], new: list[str]) -> tuple[int, int]:
    """(leading, trailing) sentences the two scripts share (not overlapping)."""
    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    q = 0
    while q < min(len(old), len(new)) - p and old[-1 - q] == new[-1 - q]:
        q += 1
    return p, q


def _edit_region(old: list[tuple[str, float, float]], new: list[tuple[str, float, float]],
                 old_dur: float, new_dur: float) -> tuple[float, float, float, float]:
    """(a, b_old, a', b_new) seconds: the audio before `a` is identical in both tracks, the
    audio from b_old (old) equals the audio from b_new (new). The cuts lie in the pauses
    around the changed sentences, MARGIN_S from the changed speech (lips move a little
    before and after the sound), so segment boundaries placed in those pauses stay
    outside the edit."""
    p, q = _common([o[0] for o in old], [n[0] for n in new])
    a = 0.0
    if p > 0:
        gaps = [x[p][1] - x[p - 1][2] for x in (old, new) if p < len(x)]
        gap = min(gaps, default=2 * MARGIN_S)
        start = old[p - 1][2] + gap  # the first changed sentence (or the old/new end)
        a = start - min(MARGIN_S, gap / 2)
    if q == 0:
        return a, old_dur, a, new_dur
    i, j = len(old) - q, len(new) - q
    gap_o = old[i][1] - (old[i - 1][2] if i > 0 else 0.0)
    gap_n = new[j][1] - (new[j - 1][2] if j > 0 else 0.0)
    gap = min(gap_o, gap_n)  # silence before the shared sentence in both versions
    back = gap - min(MARGIN_S, gap / 2)
    return a, old[i][1] - back, a, new[j][1] - back


def _layout_spans(layout) -> list[tuple[int, int]] | None:
    """The (start, end) frame spans of a recorded layout (from the project file: checked
    here), or None when it is not a list of number pairs."""
    try:
        return [(int(a), int(b)) for a, b in layout]
    except (TypeError, ValueError):
        return None


def _restored_spans(layout, lo: int, hi: int) -> list[tuple[int, int]] | None:
    """The spans of a recorded layout (from the project file: checked here) that tile
    [lo, hi) exactly, relative to lo; None when it does not fit (then the region is split
    at its pauses)."""
    spans = _layout_spans(layout)
    if spans is None:
        return None
    inside = [(a, b) for a, b in spans if lo <= a < b <= hi]
    if not inside or inside[0][0] != lo or inside[-1][1] != hi or any(
            x[1] != y[0] for x, y in zip(inside, inside[1:], strict=False)):
        return None
    return [(a - lo, b - lo) for a, b in inside]


def _on_layout(layout, keep: list, moved: list, shift: int) -> tuple[list, list, list]:
    """Undo restores a recorded layout exactly: of the segments before the edit region
    only the longest run from the start that lies on the layout is kept, of those after
    it only the longest run to the end (after the shift); the rest is laid out again.

    Why: the edit being undone may have split the region differently (its audio has other
    pauses), leaving a segment before the region whose end is no boundary of the layout;
    keeping it would make the recorded spans not tile what is left (seen: undo gave
    (0,86),(86,125) where the original was (0,125))."""
    listed = _layout_spans(layout)
    if listed is None:
        return keep, moved, []
    spans = set(listed)
    k = 0
    while k < len(keep) and (keep[k].start, keep[k].end) in spans:
        k += 1
    m = len(moved)
    while m > 0 and (moved[m - 1].start + shift, moved[m - 1].end + shift) in spans:
        m -= 1
    return keep[:k], moved[m:], keep[k:] + moved[:m]


def _relayout(s: Session, tl: Timeline, before, feats, region, layout=None
              ) -> tuple[list[int], list[int], tuple[int, int, int] | None]:
    """Move, keep or replace the segments of `tl` for an edit of its audio; returns (ids
    that kept their render, ids to render). Renders of kept and shifted segments are
    recorded again under their new spec hashes (same file: same audio, same frames).
    The third value: (lo, hi, shift) frames - new frames [0, lo) are old frames [0, lo),
    new frames [hi, n) are old frames [hi - shift, n - shift) (None: nothing kept)."""
    from studio import timelines as tlmod

    fps = float(tl.fps)
    a, b_old, _, b_new = region
    shift_f = (b_new - b_old) * fps
    whole = abs(shift_f - round(shift_f)) < 1e-6
    shift = int(round(shift_f))
    a_f = int(math.floor(a * fps + 1e-9))
    b_f = int(math.ceil(b_old * fps - 1e-9))
    n_new = int(len(feats.vad))
    old_rows = {r.id: r for r in s.execute(
        select(Segment).where(Segment.timeline_id == tl.id)).scalars()}
    keep, moved, gone = [], [], []
    for seg in before:
        if seg.end <= a_f:
            keep.append(seg)
        elif whole and seg.start >= b_f and seg.end + shift <= n_new:
            moved.append(seg)
        else:
            gone.append(seg)
    if moved and moved[-1].end + shift != n_new:  # the track's end moved otherwise
        gone += [moved.pop()]
    if layout is not None:
        keep, moved, off = _on_layout(layout, keep, moved, shift)
        gone += off
    lo = max((x.end for x in keep), default=0)
    hi = min((x.start + shift for x in moved), default=n_new)
    template = old_rows[gone[0].id] if gone else None
    for x in gone:
        s.delete(old_rows[x.id])
    for x in moved:
        r = old_rows[x.id]
        r.start_frame, r.end_frame = x.start + shift, x.end + shift
    fresh: list[Segment] = []
    if hi > lo:
        vad, rms = np.asarray(feats.vad)[lo:hi], np.asarray(feats.rms)[lo:hi]
        spans = _restored_spans(layout, lo, hi) if layout is not None else None
        for s0, e0 in spans or split_at_pauses(vad, fps, rms) or [(0, hi - lo)]:
            seg = Segment(timeline_id=tl.id, start_frame=lo + s0, end_frame=lo + e0)
            if template is not None:
                seg.preset_id, seg.seed = template.preset_id, template.seed
                seg.expression_json = template.expression_json
            fresh.append(seg)
        s.add_all(fresh)
    s.get(Timeline, tl.id).n_frames = n_new
    s.flush()
    # the carried renders, under the new spec hashes
    base = tlmod._base(s, s.get(Timeline, tl.id))
    rows = tlmod._rows(s, tl.id)
    from studio import specs as specmod

    hashes = {r.id: h for r, (_spec, h) in zip(rows, specmod.segment_specs(base, rows),
                                               strict=True)}
    kept_ids = []
    for x in keep + moved:
        if x.state != "rendered" or x.render_path is None:
            continue
        rel = f"renders/{x.render_path.name}"
        h = hashes[x.id]
        exists = s.execute(select(Render).where(Render.timeline_id == tl.id,
                                                Render.spec_hash == h)).scalars().first()
        if exists is None:
            seg = s.get(Segment, x.id)
            s.add(Render(timeline_id=tl.id, segment_id=x.id, spec_hash=h, engine=tl.engine,
                         file=rel, status="done", start_frame=seg.start_frame,
                         end_frame=seg.end_frame, render_seconds=0.0, created=time.time()))
        else:
            exists.status, exists.segment_id = "done", x.id
        kept_ids.append(x.id)
    s.flush()
    stale = [r.id for r in rows if r.id not in set(kept_ids)]
    return kept_ids, stale, ((lo, hi, shift) if kept_ids else None)
