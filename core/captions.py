"""Captions from timed words: sentence cues, SRT/WebVTT writers and readers, and burning
captions into video frames.

Cue rules (the common broadcast/streaming guidance: BBC, Netflix timed-text style):
- a cue is a sentence, or a part of one: at most 2 lines of at most 42 characters, shown
  for at most MAX_CUE_S; longer sentences are split at the most natural break that fits
  (after , ; : or a dash, else before a conjunction, else the most balanced space);
- lines are balanced (a bottom-heavy pyramid is easier to read than one long line);
- a cue shows at least MIN_CUE_S (short cues are extended into the following silence),
  lingers LINGER_S after its last word when there is room, and never overlaps the next.

`burn(frame, cue, style)` is a pure function over an RGB frame (PIL for the text, so it
runs per frame inside an export); `burn_video` applies it to an MP4, keeping its audio.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.types import Word

MAX_LINE = 42
MAX_LINES = 2
MIN_CUE_S = 1.0
MAX_CUE_S = 7.0
LINGER_S = 0.4
GAP_S = 0.04  # one frame at 25 fps between consecutive cues, so players never merge them
_CONJUNCTIONS = frozenset([
    "and", "but", "or", "so", "because", "which", "that", "who", "when", "while", "although",
    "though", "if", "unless", "until", "where", "whereas", "since", "as", "then",
])
_BREAK_AFTER = re.compile(r"[,;:\u2013\u2014]$|\.\.\.$|\u2026$| -$")
_SENTENCE_END = re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*$")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


# ------------------------------------------------------------------ building cues
def make_cues(words: Sequence[Word], max_line: int = MAX_LINE, max_lines: int = MAX_LINES,
              min_dur: float = MIN_CUE_S, max_dur: float = MAX_CUE_S,
              linger: float = LINGER_S, duration: float | None = None) -> list[Cue]:
    """Cues from timed display words (e.g. core.tts Speech.words, or aligned words).

    A sentence too short to read on its own ("Hello!") shares a cue with the next one when
    both fit. `duration` (of the audio) keeps the last cue from lingering past the end."""
    words = [w for w in words if w.text.strip()]
    groups: list[list[Word]] = []
    for sent in _sentences(words):
        groups += _split_to_fit(sent, max_line, max_lines, max_dur)
    merged: list[list[Word]] = []
    for g in groups:
        prev = merged[-1] if merged else None
        if (prev is not None and prev[-1].end - prev[0].start < min_dur
                and _fits(prev + g, max_line, max_lines, max_dur)
                and (_chars(prev + g) <= max_line
                     or (_chars(prev) <= max_line and _chars(g) <= max_line))):
            merged[-1] = prev + g
        else:
            merged.append(g)
    groups = merged
    limit = float("inf") if duration is None else float(duration)
    cues: list[Cue] = []
    for i, g in enumerate(groups):
        start = g[0].start
        nxt = groups[i + 1][0].start if i + 1 < len(groups) else max(limit, g[-1].end) + GAP_S
        end = max(g[-1].end + linger, start + min_dur)
        end = min(end, max(g[-1].end, nxt - GAP_S), start + max(max_dur, g[-1].end - start))
        if cues and start < cues[-1].end:
            start = cues[-1].end
        end = max(end, start + 0.001)
        cues.append(Cue(start, end, tuple(wrap_lines([w.text for w in g], max_line,
                                                     max_lines))))
    return cues


def _chars(ws: Sequence[Word]) -> int:
    return len(" ".join(w.text for w in ws))


def _sentences(words: list[Word]) -> list[list[Word]]:
    out: list[list[Word]] = []
    cur: list[Word] = []
    for w in words:
        cur.append(w)
        if _SENTENCE_END.search(w.text):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _fits(ws: Sequence[Word], max_line: int, max_lines: int, max_dur: float) -> bool:
    if len(ws) > 1 and ws[-1].end - ws[0].start > max_dur:
        return False
    return len(wrap_lines([w.text for w in ws], max_line, max_lines, strict=True)) <= max_lines


def _split_to_fit(ws: list[Word], max_line: int, max_lines: int, max_dur: float
                  ) -> list[list[Word]]:
    if len(ws) <= 1 or _fits(ws, max_line, max_lines, max_dur):
        return [ws]
    best, best_score = 1, -1e9
    total = sum(len(w.text) + 1 for w in ws)
    left = 0
    for k in range(1, len(ws)):
        left += len(ws[k - 1].text) + 1
        score = -abs(left - total / 2) / total  # balance: 0 best, -0.5 worst
        if _BREAK_AFTER.search(ws[k - 1].text):
            score += 1.0
        elif ws[k].text.lower().strip("\"'(") in _CONJUNCTIONS:
            score += 0.6
        if ws[k].start - ws[k - 1].end > 0.25:  # a pause in the speech is a break too
            score += 0.5
        # prefer a first part that fits in one cue (fewer, fuller cues)
        if _fits(ws[:k], max_line, max_lines, max_dur):
            score += 0.3
        if k == 1 or k == len(ws) - 1:
            score -= 0.4  # orphans
        if score > best_score:
            best, best_score = k, score
    return (_split_to_fit(ws[:best], max_line, max_lines, max_dur)
            + _split_to_fit(ws[best:], max_line, max_lines, max_dur))


def wrap_lines(tokens: Sequence[str], max_line: int = MAX_LINE, max_lines: int = MAX_LINES,
               strict: bool = False) -> list[str]:
    """Break tokens into balanced lines of <= max_line characters.

    Returns as many lines as needed (callers split cues so that is <= max_lines); a
    token longer than a line is cut into line-sized pieces. With `strict`, the result
    says honestly how many lines the text needs (used to decide splits)."""
    toks: list[str] = []
    for t in tokens:
        while len(t) > max_line:
            toks.append(t[:max_line])
            t = t[max_line:]
        toks.append(t)
    text = " ".join(toks)
    if len(text) <= max_line:
        return [text] if text else []
    if max_lines >= 2:
        # try every two-line split; the best balances lengths and prefers punctuation
        best = None
        for k in range(1, len(toks)):
            a, b = " ".join(toks[:k]), " ".join(toks[k:])
            if len(a) > max_line or len(b) > max_line:
                continue
            score = abs(len(a) - len(b)) - (8 if _BREAK_AFTER.search(toks[k - 1]) else 0)
            score -= 30 if _SENTENCE_END.search(toks[k - 1]) else 0  # one sentence a line
            score += 2 if len(a) > len(b) else 0  # bottom-heavy reads better
            if best is None or score < best[0]:
                best = (score, [a, b])
        if best is not None:
            return best[1]
    lines: list[str] = []  # greedy fill for text that needs more than two lines
    cur = ""
    for t in toks:
        if cur and len(cur) + 1 + len(t) > max_line:
            lines.append(cur)
            cur = t
        else:
            cur = f"{cur} {t}" if cur else t
    if cur:
        lines.append(cur)
    return lines


# ------------------------------------------------------------------ SRT / WebVTT
def _stamp(t: float, sep: str) -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: Sequence[Cue]) -> str:
    """SubRip: numbered blocks, `HH:MM:SS,mmm --> HH:MM:SS,mmm`, blank line between."""
    blocks = []
    for i, c in enumerate(cues, 1):
        text = "\n".join(ln.strip() or "\u00a0" for ln in c.lines)
        blocks.append(f"{i}\n{_stamp(c.start, ',')} --> {_stamp(c.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def to_vtt(cues: Sequence[Cue]) -> str:
    """WebVTT: `WEBVTT` header, `HH:MM:SS.mmm --> HH:MM:SS.mmm`, text with &, < and >
    escaped (cue text is markup in VTT) and no `-->` inside it."""
    out = ["WEBVTT", ""]
    for c in cues:
        out.append(f"{_stamp(c.start, '.')} --> {_stamp(c.end, '.')}")
        for ln in c.lines:
            ln = ln.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            out.append(ln.strip() or "\u00a0")
        out.append("")
    return "\n".join(out)


_TIME = r"(\d+):(\d{2}):(\d{2})[,.](\d{3})"
_ARROW = re.compile(_TIME + r"\s+-->\s+" + _TIME)


def _secs(g: Sequence[str]) -> float:
    h, m, s, ms = (int(x) for x in g)
    return h * 3600 + m * 60 + s + ms / 1000


def parse_subtitles(text: str) -> list[Cue]:
    """Cues of an SRT or WebVTT text (timings, lines; VTT entities unescaped, settings
    after the timestamps ignored). ValueError when no cue can be read."""
    vtt = text.lstrip("\ufeff").startswith("WEBVTT")
    cues: list[Cue] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = block.split("\n")
        for i, ln in enumerate(lines):
            m = _ARROW.search(ln)
            if m:
                body = [x for x in lines[i + 1:]]
                if vtt:
                    body = [x.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
                            for x in body]
                cues.append(Cue(_secs(m.groups()[:4]), _secs(m.groups()[4:]), tuple(body)))
                break
    if not cues:
        raise ValueError("no subtitle cues found")
    return cues


def cue_at(cues: Sequence[Cue], t: float) -> Cue | None:
    """The cue showing at time `t` (cues sorted, not overlapping), by binary search."""
    i = bisect.bisect_right([c.start for c in cues], t) - 1
    if i >= 0 and cues[i].start <= t < cues[i].end:
        return cues[i]
    return None


def write_subtitles(cues: Sequence[Cue], path: str | Path) -> Path:
    """Write .srt or .vtt (by extension), atomically, UTF-8."""
    from core.errors import InputError
    from core.fsutil import atomic_path

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in (".srt", ".vtt"):
        raise InputError(p, "subtitles must end in .srt or .vtt")
    text = to_srt(cues) if suffix == ".srt" else to_vtt(cues)
    with atomic_path(p, suffix=suffix) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return p


# ------------------------------------------------------------------ burning into frames
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",  # Debian fonts-dejavu-core
    "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf",  # Fedora
    "/Library/Fonts/Arial Bold.ttf",
    "C:/Windows/Fonts/arialbd.ttf",
)


@dataclass(frozen=True)
class CaptionStyle:
    """How burned captions look. Sizes below 1 are fractions of the frame height (so one
    style suits 720p and 1080p alike); 1 or more are pixels.

    font: a TTF/OTF path; None = DejaVu Sans Bold (Debian fonts-dejavu-core), else a
          system sans, else Pillow's built-in scalable font.
    outline: stroke colour around the glyphs (legible on any background), width as a
          fraction of the font size; box: optional RGBA band behind the text.
    """

    font: str | None = None
    size: float = 0.055
    color: tuple[int, int, int] = (255, 255, 255)
    outline: tuple[int, int, int] = (0, 0, 0)
    outline_width: float = 0.08
    position: str = "bottom"
    margin: float = 0.07
    line_spacing: float = 0.2
    box: tuple[int, int, int, int] | None = None
    max_width: float = 0.9


def _px(v: float, h: int) -> int:
    return max(1, int(round(v * h if v < 1 else v)))


@lru_cache(maxsize=32)
def _font(path: str | None, size: int):
    from PIL import ImageFont

    from core.errors import InputError

    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError as exc:
            raise InputError(path, f"cannot be used as a font ({exc})") from None
    for cand in FONT_CANDIDATES:
        if Path(cand).is_file():
            try:
                return ImageFont.truetype(cand, size)
            except OSError:
                continue
    return ImageFont.load_default(size=size)  # Pillow >= 10.1: scalable, needs FreeType


def _layout(w: int, h: int, lines: Sequence[str], style: CaptionStyle):
    """(font, stroke, line height, y0 of the text block, block height)."""
    size = _px(style.size, h)
    font = _font(style.font, size)
    stroke = max(1, int(round(style.outline_width * size))) if style.outline_width else 0
    widest = max(font.getlength(ln) for ln in lines) + 2 * stroke
    if widest > style.max_width * w:  # too wide for this frame: shrink to fit
        size = max(6, int(size * style.max_width * w / widest))
        font = _font(style.font, size)
        stroke = max(1, int(round(style.outline_width * size))) if style.outline_width else 0
    ascent, descent = font.getmetrics()
    line_h = ascent + descent + 2 * stroke
    gap = int(round(style.line_spacing * size))
    block = len(lines) * line_h + (len(lines) - 1) * gap
    margin = _px(style.margin, h)
    y0 = margin if style.position == "top" else h - margin - block
    return font, stroke, line_h, gap, max(0, y0), block


def caption_band(frame_shape: Sequence[int], cue: Cue | Sequence[str] | str,
                 style: CaptionStyle = CaptionStyle()) -> tuple[int, int]:
    """Rows [y0, y1) that `burn` may change for this cue (text block plus its padding)."""
    h, w = int(frame_shape[0]), int(frame_shape[1])
    lines = _lines_of(cue)
    if not lines:
        return (0, 0)
    _, stroke, _, _, y0, block = _layout(w, h, lines, style)
    pad = _pad(style, h)
    return max(0, y0 - pad), min(h, y0 + block + pad)


def _pad(style: CaptionStyle, h: int) -> int:
    return int(round(0.35 * _px(style.size, h))) if style.box else 0


def _lines_of(cue) -> list[str]:
    if cue is None:
        return []
    if isinstance(cue, Cue):
        lines = list(cue.lines)
    elif isinstance(cue, str):
        lines = cue.split("\n")
    else:
        lines = list(cue)
    return [ln for ln in (x.strip() for x in lines) if ln]


def burn(frame: np.ndarray, cue: Cue | Sequence[str] | str | None,
         style: CaptionStyle = CaptionStyle()) -> np.ndarray:
    """A copy of the RGB uint8 `frame` with the cue's lines drawn centred in its band;
    pixels outside `caption_band` are untouched. `cue=None` returns the frame as is."""
    from PIL import Image, ImageDraw

    lines = _lines_of(cue)
    if not lines:
        return frame
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError("burn expects an [H, W, 3] uint8 RGB frame")
    h, w = frame.shape[:2]
    font, stroke, line_h, gap, y0, block = _layout(w, h, lines, style)
    b0, b1 = caption_band(frame.shape, lines, style)
    if b1 <= b0:
        return frame
    layer = Image.new("RGBA", (w, b1 - b0), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    if style.box is not None:
        widest = max(font.getlength(ln) for ln in lines) + 2 * stroke
        pad = _pad(style, h)
        draw.rounded_rectangle(
            [max(0, (w - widest) / 2 - pad), 0, min(w - 1, (w + widest) / 2 + pad), b1 - b0 - 1],
            radius=pad // 2, fill=tuple(style.box))
    y = y0 - b0 + stroke
    for ln in lines:
        draw.text((w / 2, y), ln, font=font, fill=tuple(style.color) + (255,), anchor="ma",
                  stroke_width=stroke, stroke_fill=tuple(style.outline) + (255,))
        y += line_h + gap
    out = frame.copy()
    base = Image.fromarray(out[b0:b1]).convert("RGBA")
    base.alpha_composite(layer)
    out[b0:b1] = np.asarray(base.convert("RGB"))
    return out


def burn_video(src: str | Path, cues: Sequence[Cue], out: str | Path,
               style: CaptionStyle = CaptionStyle(), progress=None, cancel=None) -> Path:
    """`src` MP4 -> `out` MP4 with the cues burned in; the audio track is kept."""
    from core.video_transform import transform_video

    cues = sorted(cues, key=lambda c: c.start)
    starts = [c.start for c in cues]

    def draw(frame: np.ndarray, index: int, t: float) -> np.ndarray:
        i = bisect.bisect_right(starts, t) - 1
        cue = cues[i] if i >= 0 and t < cues[i].end else None
        return burn(frame, cue, style)

    return transform_video(src, out, draw, progress=progress, cancel=cancel)


__all__ = [
    "CaptionStyle", "Cue", "burn", "burn_video", "caption_band", "cue_at", "make_cues",
    "parse_subtitles", "to_srt", "to_vtt", "wrap_lines", "write_subtitles",
]
