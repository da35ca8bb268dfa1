"""What an export can add to the plain timeline MP4: a caption sidecar (.srt/.vtt beside
the video), captions burned into the frames, and framing for 16:9 / 9:16 / 1:1 at 720p or
1080p with the head placed by the rule of thirds (eye line from the portrait's rig).

Why apart from studio.export: the plain export is a stream copy of the segment renders;
framing and burned captions need one decode/encode pass over it (core.video_transform),
done here into the final file, atomically (the intermediate plain MP4 is a hidden file
beside the output, removed whatever happens).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.captions import CaptionStyle
from core.errors import InputError
from core.types import CancelFn, ProgressFn, Word

if TYPE_CHECKING:
    from studio.project import Project

CAPTION_FORMATS = ("srt", "vtt")
HEIGHTS = {720: "720p", 1080: "1080p"}


@dataclass(frozen=True)
class Framing:
    """Output canvas: aspect "16:9"|"9:16"|"1:1", height 720|1080 (the short side), fill
    "blur"|"color"|"image" with `color` (RGB) or `image` (a picture file)."""

    aspect: str = "16:9"
    height: int = 720
    fill: str = "blur"
    color: tuple[int, int, int] = (0, 0, 0)
    image: Path | None = None

    @classmethod
    def parse(cls, aspect: str, height: int | str, fill: str = "blur") -> Framing:
        """From the CLI's spelling: fill "blur", "color:#RRGGBB" or "image:PATH"."""
        from core.framing import ASPECTS

        if aspect not in ASPECTS:
            raise InputError(None, f"--aspect must be one of {', '.join(ASPECTS)}, got "
                             f"'{aspect}'")
        try:
            h = int(height)
        except (TypeError, ValueError):
            h = -1
        if h not in HEIGHTS:
            raise InputError(None, f"--height must be 720 or 1080, got '{height}'")
        kind, _, arg = str(fill).partition(":")
        if kind == "blur" and not arg:
            return cls(aspect, h, "blur")
        if kind == "color":
            m = re.fullmatch(r"#?([0-9a-fA-F]{6})", arg.strip())
            if not m:
                raise InputError(None, f"--fill color:#RRGGBB expected, got '{fill}'")
            rgb = tuple(int(m.group(1)[i:i + 2], 16) for i in (0, 2, 4))
            return cls(aspect, h, "color", rgb)  # type: ignore[arg-type]
        if kind == "image" and arg:
            from core.fsutil import check_input_file

            return cls(aspect, h, "image", image=check_input_file(arg, "an image file"))
        raise InputError(None, f"--fill must be blur, color:#RRGGBB or image:PATH, got "
                         f"'{fill}'")

    @property
    def size(self) -> tuple[int, int]:
        from core.framing import output_size

        return output_size(self.aspect, HEIGHTS[self.height])


@dataclass(frozen=True)
class ExportExtras:
    """captions: "srt"|"vtt" sidecar (None: none); burn: draw them into the frames."""

    captions: str | None = None
    burn: bool = False
    style: CaptionStyle = field(default_factory=CaptionStyle)
    framing: Framing | None = None

    def __post_init__(self) -> None:
        if self.captions is not None and self.captions not in CAPTION_FORMATS:
            raise InputError(None, f"--captions must be srt or vtt, got '{self.captions}'")
        if self.style.position not in ("top", "bottom"):
            raise InputError(None, "--caption-position must be top or bottom")

    @property
    def transforms_video(self) -> bool:
        return self.burn or self.framing is not None


def sidecar_path(video: Path, fmt: str) -> Path:
    """The captions file beside the video: same name, .srt/.vtt."""
    return video.with_suffix(f".{fmt}")


def timeline_words(project: Project, timeline_id: int) -> list[Word]:
    """The timed words of a timeline's audio: a script track's own (the synthesiser's
    timings), else the forced alignment of the track's transcript (empty without one)."""
    tl = project.timeline(timeline_id)
    if project.has_script(tl.audio_id):
        return project.script(tl.audio_id).words
    return list(project.audio_features(tl.audio_id, tl.fps).words)


def export_with_extras(project: Project, timeline_id: int, out_path, extras: ExportExtras,
                       progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                       **kw) -> Path:
    """studio.export.export_timeline, then framing/burned captions and the sidecar."""
    from core.captions import make_cues, write_subtitles
    from core.video import check_writable
    from studio.export import _safe_name, export_timeline

    tl = project.timeline(timeline_id)
    out = Path(out_path) if out_path is not None else (
        project.path / "exports" / f"{_safe_name(tl.name)}.mp4")
    out = check_writable(out.expanduser())
    cues = []
    if extras.captions or extras.burn:
        words = timeline_words(project, tl.id)
        if not words:
            raise InputError(None, f"timeline {tl.id} has no words for captions: give its "
                             "audio a transcript ('render --transcript-file') or use a "
                             "script track")
        cues = make_cues(words)
    if extras.captions:
        check_writable(sidecar_path(out, extras.captions))
    prog = progress or (lambda f, m: None)
    if not extras.transforms_video:
        video = export_timeline(project, tl.id, out, progress=prog, cancel=cancel, **kw)
    else:
        raw = out.with_name(f".{out.stem}.plain.mp4")
        try:
            export_timeline(project, tl.id, raw, progress=lambda f, m: prog(0.5 * f, m),
                            cancel=cancel, **kw)
            fn = _frame_fn(project, tl, extras, cues)
            from core.video_transform import transform_video

            video = transform_video(raw, out, fn, crf=int(kw.get("crf", 18)),
                                    progress=lambda f, m: prog(0.5 + 0.5 * f, m),
                                    cancel=cancel)
        finally:
            with contextlib.suppress(OSError):
                raw.unlink()
    if extras.captions:
        write_subtitles(cues, sidecar_path(video, extras.captions))
    return video


def _frame_fn(project: Project, tl, extras: ExportExtras, cues):
    from core.captions import burn, cue_at

    state: dict = {}

    def fn(frame: np.ndarray, _i: int, t: float) -> np.ndarray:
        if extras.framing is not None:
            if "layout" not in state:
                state["layout"], state["image"] = _layout(project, tl, extras.framing,
                                                          frame.shape)
            from core.framing import compose

            f = extras.framing
            frame = compose(frame, state["layout"], f.fill, f.color, state["image"])
        if extras.burn:
            frame = burn(frame, cue_at(cues, t), extras.style)
        return frame

    return fn


def _layout(project: Project, tl, framing: Framing, shape):
    from core.framing import eye_line_of_rig, plan_layout

    h, w = int(shape[0]), int(shape[1])
    eye_y, cx = eye_line_of_rig(project.portrait_rig(tl.portrait_id), (w, h))
    image = None
    if framing.fill == "image":
        from core.image import load_image

        image = load_image(framing.image)
    return plan_layout((w, h), framing.size, eye_y, cx), image
