"""`evaluate(video, portrait, ...)`: measure a talking-head video against its inputs.

One decoding pass tracks 68 landmarks on every frame (core.evaluate.tracking) and keeps the
few frames needed for the identity check and the contact sheet, so memory is bounded and a
10 s 512² clip takes a couple of seconds. The mouth opening is read per frame from the
image between the tracked lips (core.evaluate.lipgap; the Face Mesh's own inner lips stay
apart on closed lips), on grey videos from its brightness (or, where brightness does not
follow the lips, from the landmarks, and then no rest ratio is given). Blinks are the lids'
aspect-ratio dips plus the eye-image spikes they miss (core.evaluate.eyes); pauses come
from a voice-activity detector, not loudness. Every measure is defined and justified in
core.evaluate.metrics; this module wires them up and attaches targets.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from core.errors import InputError
from core.evaluate import eyes as E
from core.evaluate import metrics as M
from core.evaluate import pose as P
from core.evaluate.lipgap import grey_gaps, grey_profile, lip_gap, mouth_series
from core.evaluate.mouth_interior import WidestFrames, mouth_interior_texture
from core.evaluate.sheet import contact_sheet, sample_indices, write_sheet
from core.evaluate.tracking import FaceTracker, descriptor, detect
from core.types import Waveform
from core.video import probe, read_frames

IDENTITY_SAMPLES = 10
SHEET_TILES = 16

# Blinks: at least one per 10 s and at most one per 2 s, graded only on clips of 10 s or
# more (a shorter clip can end before a first blink is due). The README and `bench quality`
# quote this range; tests/test_hygiene.py checks the README against it.
BLINK_RANGE_PER_MIN = (6.0, 30.0)
BLINK_MIN_CLIP_S = 10.0

HEAD_MOTION_RANGE = (1.3, 8.7)
"""Head motion (RMS of the yaw and pitch std, degrees) of published generators and real
footage. Measured by this evaluator (Face Mesh tracker, Kabsch pose) on ../shared/peers:
EMO's four videos 1.3-3.4, VASA-1's four 4.3-5.7 (an independent measurement: VASA-1
3.8-6.2, real footage 1.0-8.7, which sets the upper bound). A still head reads < 0.1, a
warp render with a nodding planner ~1. The 68-point PnP estimate (details.pose_pnp68) reads
the same videos 0.5-1.0x as high (see core.evaluate.pose)."""
LIPSYNC_BP_RANGE = (0.15, 0.50)
"""Band-passed lip-sync r of real speakers (~0.15-0.45) and of the peers' videos (VASA-1
0.34-0.43, EMO 0.13-0.28 here): below, the mouth does not follow the speech; above, it is
slaved to loudness (see metrics.lip_sync_bp)."""
REST_MIN_PAUSE_S = 0.25
"""mouth_rest_ratio counts pauses at least this long once the margin is taken off each
side: shorter gaps between words need not close the lips."""
REST_VAD_MARGIN = 2
"""Frames next to the VAD's speech left out of the pauses. Silero's speech probability
stays up ~0.2 s after the voice stops (vasa-1_10: pauses of 13 and 16 frames by energy are
7 and 12 by the VAD), which already covers the lips closing; the energy cut keeps 3.
Measured (margin 1-3 x min pause 0.25/0.3 s) on the peers' videos: VASA-1 0.36-1.05
(vasa-1_5: no VAD pause that long, None), EMO 0.0-0.58, our jocker 0.19-0.22, mola
0.17-0.19; 2 and 0.25 s keep a pause in every clip but vasa-1_5."""

# name: (comparison, threshold(s), human-readable target)
TARGETS: dict[str, tuple[str, object, str]] = {
    "face_found": (">=", 0.95, ">= 0.95"),
    "lip_sync_r": ("info", None, "higher is better"),
    "lip_sync_lag_frames": ("abs<=", 2, "|lag| <= 2"),
    "lip_sync_z": (">=", 3.0, ">= 3"),
    "mouth_rest_ratio": ("<=", 0.25, "<= 0.25"),
    "identity_distance": ("<=", 0.35, "<= 0.35"),
    "bilabial_closure": (">=", 0.8, ">= 0.8"),
    "stressed_vowel_opening": (">=", 1.2, ">= 1.2"),
    "blinks_per_minute": ("range", BLINK_RANGE_PER_MIN,
                          f"{BLINK_RANGE_PER_MIN[0]:g}-{BLINK_RANGE_PER_MIN[1]:g} "
                          f"(clips >= {BLINK_MIN_CLIP_S:g} s)"),
    "landmark_jitter": ("<=", 0.02, "<= 0.02 IOD"),
    "head_position_std": (">=", 0.02, ">= 0.02 IOD"),
    "head_roll_std_deg": ("info", None, "degrees"),
    "head_yaw_std": ("info", None, "degrees"),
    "head_pitch_std": ("info", None, "degrees"),
    "head_roll_std": ("info", None, "degrees"),
    "head_motion": ("range", HEAD_MOTION_RANGE, "{:.1f}-{:.1f} deg".format(*HEAD_MOTION_RANGE)),
    "brow_std": ("info", None, "IOD"),
    "gaze_std": ("info", None, "eye widths"),
    "lipsync_r_bp": ("range", LIPSYNC_BP_RANGE, "{:.2f}-{:.2f}".format(*LIPSYNC_BP_RANGE)),
    "av_duration_diff_ms": ("<=", None, "<= 1 frame"),
    # peers' gt.mp4 0.08-0.15, a flat painted plate 0.012-0.039 (clip medians of frames opened
    # >= 0.08 IOD, core.evaluate.mouth_interior.MIN_OPENING)
    "mouth_interior_texture": (">=", 0.09, ">= 0.09"),
}


SUMMARY_KEYS = ("head_yaw_std", "head_pitch_std", "head_roll_std", "head_motion", "brow_std",
                "gaze_std", "lipsync_r_bp", "lip_sync_r", "mouth_rest_ratio",
                "identity_distance")
"""The numbers compared across generators (bench quality, the peers): flat in the JSON."""


def _judge(name: str, value, threshold=None) -> bool | None:
    if value is None:
        return None
    kind, thr, _ = TARGETS[name]
    thr = threshold if threshold is not None else thr
    if kind == "info" or thr is None:
        return None
    if kind == ">=":
        return bool(value >= thr)
    if kind == "<=":
        return bool(value <= thr)
    if kind == "abs<=":
        return bool(abs(value) <= thr)
    lo, hi = thr
    return bool(lo <= value <= hi)


def _load_audio(path: str | Path) -> Waveform:
    """16 kHz mono via core.audio (decodes any container, so an MP4's own track works)."""
    import core.audio as ca

    fn = getattr(ca, "load", None)
    if fn is not None and not callable(fn):  # package without re-export: the module
        fn = fn.load
    return fn(path)


def _align(wave: Waveform, fps: float, transcript: str):
    """Forced-aligned phones from core.audio.analyze, or (None, reason)."""
    try:
        from core.audio import analyze
    except ImportError as exc:
        return None, f"needs core.audio.analyze ({exc})"
    feats = analyze(wave, fps, transcript=transcript)
    if not getattr(feats, "aligned", False):
        return None, "the transcript could not be aligned to the audio"
    return feats.phones, ""


def evaluate(
    video_path: str | Path,
    portrait_path: str | Path,
    audio_path: str | Path | None = None,
    transcript: str | None = None,
    fps: float | None = None,
    sheet: str | Path | None = None,
) -> dict:
    """Measure `video_path` (a rendered talking head) against the portrait and speech.

    Audio: `audio_path` if given, else the video's own audio track. `fps` overrides the
    container's frame rate. `sheet` writes a contact sheet PNG there. Returns a JSON-ready
    dict: {"metrics": {name: {"value", "target", "pass", "note"}}, "details", "timings", ...}.
    Missing/unreadable inputs raise InputError.
    """
    t0 = time.perf_counter()
    video_path = Path(video_path)
    if sheet is not None:  # fail before the work, not after it
        sheet = Path(sheet)
        if sheet.is_dir() or not sheet.parent.is_dir():
            raise InputError(sheet, "cannot write the contact sheet there (missing folder?)")
    info = probe(video_path)
    fps = float(fps or info["fps"] or 25.0)
    n_hint = int(info["n_frames"] or 0)

    from core.image import load_image

    portrait = load_image(portrait_path)

    # -- one pass: landmarks for every frame, keep a few frames
    if n_hint <= 0:
        n_hint = sum(1 for _ in read_frames(video_path))
    keep_id = set(sample_indices(n_hint, IDENTITY_SAMPLES))
    keep_sheet = set(sample_indices(n_hint, SHEET_TILES)) if sheet is not None else set()
    kept: dict[int, np.ndarray] = {}
    tracker = FaceTracker()
    rows: list[np.ndarray] = []
    gaze_rows: list[np.ndarray] = []
    meshes: list[object | None] = []
    nan68 = np.full((68, 2), np.nan, np.float32)
    widest = WidestFrames()
    nan2 = np.full(2, np.nan)
    mouth = []
    patches: list[np.ndarray] = []  # eye patches, for blinks the lids' landmarks miss
    nan_patch = np.full((2, E.PATCH_V, E.PATCH_U), np.nan, np.float32)
    grey_rows: list[tuple | None] = []  # brightness profiles, for frames without lip colour
    for i, frame in enumerate(read_frames(video_path)):
        lm = tracker.update(frame)
        rows.append(nan68 if lm is None else lm)
        gaze_rows.append(nan2 if lm is None else E.gaze_68(frame, lm))
        patches.append(nan_patch if lm is None else E.eye_patches(frame, lm))
        # a Face Mesh tracker keeps the frame's core.types.FaceMesh (3-D points, irises) as
        # `mesh`; a 68-point tracker has none
        meshes.append(getattr(tracker, "mesh", None) if lm is not None else None)
        # the mouth opening is read from the image between the tracked lips (lipgap: the
        # Face Mesh's own inner lips stay apart on closed lips and under-read wide ones)
        mouth.append(np.nan if lm is None else lip_gap(frame, lm))
        grey_rows.append(grey_profile(frame, lm) if lm is not None and not np.isfinite(
            mouth[-1]) else None)
        if lm is not None:
            widest.offer(i, frame, lm, mouth[-1] if np.isfinite(mouth[-1]) else float(
                M.mouth_opening(lm[None].astype(np.float64))[0]))
        if i in keep_id or i in keep_sheet:
            kept[i] = frame
    t_track = time.perf_counter() - t0
    n = len(rows)
    if n == 0:
        raise InputError(video_path, "contains no decodable video frames")
    lms = np.stack(rows).astype(np.float64)
    found = np.isfinite(lms).all(axis=(1, 2))
    mesh_mouth = np.full(n, np.nan)
    mesh_mouth[found] = M.mouth_opening(lms[found])
    gaps = np.asarray(mouth, dtype=np.float64)
    gaps[~found] = np.nan
    grey = grey_gaps(grey_rows) if any(r is not None for r in grey_rows) else None
    mouth, mouth_how = mouth_series(gaps, mesh_mouth, grey)
    lips_unread = mouth_how.startswith("mesh")
    ear = np.full(n, np.nan)
    ear[found] = M.eye_aspect_ratio(lms[found])

    res: dict[str, dict] = {}
    details: dict[str, object] = {"mouth_opening": mouth_how}

    def put(name: str, value, note: str = "", threshold=None, target: str | None = None):
        if isinstance(value, float | np.floating):
            value = float(value)
        res[name] = {"value": value, "target": target or TARGETS[name][2],
                     "pass": _judge(name, value, threshold), "note": note}

    put("face_found", float(found.mean()), f"{int(found.sum())}/{n} frames, "
        f"{tracker.detections} detections")
    faceless = "" if found.sum() >= 5 else "no face tracked in the video"

    # -- audio measures
    wave = None
    audio_note = ""
    if audio_path is not None:
        wave = _load_audio(audio_path)
    elif info["has_audio"]:
        wave = _load_audio(video_path)
    else:
        audio_note = "no audio (the video has no track and --audio was not given)"
    if wave is not None:
        energy = M.frame_energy(wave.samples, wave.sample_rate, fps, n)
        ls = M.lip_sync(mouth, energy, fps)
        details["lip_sync"] = ls
        put("lip_sync_r", ls["r"], faceless)
        put("lip_sync_lag_frames", ls["lag"], faceless or "+ = mouth after sound")
        put("lip_sync_z", ls["z"], faceless or (f"null of {ls['n_shifts']} shifts >= 1 s"
            if ls["z"] is not None else "clip too short for a null (needs > ~3 s)"))
        bp = M.lip_sync_bp(mouth, energy, fps)
        put("lipsync_r_bp", bp, faceless or "mouth vs audio RMS, both 1-8 Hz, best lag of +-2")
        vad = M.speech_frames(wave.samples, wave.sample_rate, fps, n)
        rest = None if lips_unread else M.mouth_rest_ratio(
            mouth, energy, margin=3 if vad is None else REST_VAD_MARGIN, speech=vad,
            min_pause=int(round(REST_MIN_PAUSE_S * fps)))
        put("mouth_rest_ratio", rest, faceless or (
            "the lips cannot be read from this video's image (details.mouth_opening)"
            if lips_unread else "too little silence or speech" if rest is None else
            f"pauses of {REST_MIN_PAUSE_S:g} s or more, "
            + ("silero VAD" if vad is not None else "energy (no VAD)")))
        if transcript:
            phones, why = _align(wave, fps, transcript)
            if phones is None:
                put("bilabial_closure", None, why)
                put("stressed_vowel_opening", None, why)
            else:
                bil = M.bilabial_closure(mouth, phones, fps)
                details["bilabials"] = bil
                put("bilabial_closure", bil["fraction"],
                    f"{bil['closed']}/{bil['count']} P/B/M closed")
                put("stressed_vowel_opening", M.stressed_vowel_opening(mouth, phones, fps))
    else:
        for name in ("lip_sync_r", "lip_sync_lag_frames", "lip_sync_z", "lipsync_r_bp",
                     "mouth_rest_ratio"):
            put(name, None, audio_note)

    # -- identity
    t1 = time.perf_counter()
    ref = detect(portrait)
    if ref is None:
        put("identity_distance", None, "no face found in the portrait")
    else:
        ref_desc = descriptor(portrait, ref[0])
        dists = [float(np.linalg.norm(descriptor(kept[i], lms[i].astype(np.float32)) - ref_desc))
                 for i in sorted(keep_id) if i < n and found[i] and i in kept]
        details["identity_distances"] = dists
        put("identity_distance", float(np.mean(dists)) if dists else None,
            f"mean of {len(dists)} frames; dlib same-person < 0.6" if dists
            else "no face in the sampled frames")
    t_id = time.perf_counter() - t1

    # -- eyes, stability, motion
    bl = M.blinks(ear, fps)
    if bl["count"] is not None:
        # the mesh's lids can stay open through a visible blink (painted or made-up eyes):
        # spikes of the eye patches add the blinks the aspect ratio missed
        spikes = E.patch_blinks(np.stack(patches), fps)
        frames = E.merge_blinks(bl["frames"], bl["ends"], spikes, fps)
        bl.update(count=len(frames), per_minute=len(frames) / (n / fps / 60.0), frames=frames,
                  from_lids=len(bl["frames"]), from_image=len(frames) - len(bl["frames"]))
    details["blinks"] = bl
    duration = n / fps
    put("blinks_per_minute", bl["per_minute"], f"{bl['count']} blinks in {duration:.1f} s"
        if bl["count"] is not None else "no face")
    if duration < BLINK_MIN_CLIP_S:
        res["blinks_per_minute"]["pass"] = None
    put("landmark_jitter", M.jitter(lms), faceless)
    hm = M.head_motion(lms)
    put("head_position_std", hm["position_std"], faceless)
    put("head_roll_std_deg", hm["roll_std_deg"], faceless)
    upper = _upper_face(put, details, lms, meshes, gaze_rows, bl, fps, info, faceless)

    tex, tex_details = mouth_interior_texture(widest, mouth)
    details["mouth_interior"] = tex_details
    put("mouth_interior_texture", tex, faceless or tex_details.get("note", "median of the "
        f"{len(tex_details.get('frames', {}))} widest-open frames"))

    vd, ad = info["video_duration"], info["audio_duration"]
    diff = None if vd is None or ad is None else abs(vd - ad) * 1000.0
    put("av_duration_diff_ms", diff, "" if diff is not None else "the video has no audio track",
        threshold=1000.0 / fps, target=f"<= {1000.0 / fps:.0f} (1 frame)")

    sheet_path = None
    if sheet is not None:
        tiles = [(i, kept[i], float(mouth[i]) if found[i] else None)
                 for i in sorted(keep_sheet) if i in kept]
        sheet_path = str(write_sheet(contact_sheet(tiles), sheet))

    return {
        "video": str(video_path),
        "portrait": str(portrait_path),
        "audio": str(audio_path) if audio_path is not None else ("(video track)" if wave
                                                                  is not None else None),
        "fps": fps,
        "n_frames": n,
        "width": info["width"],
        "height": info["height"],
        "metrics": res,
        "summary": {k: res[k]["value"] for k in SUMMARY_KEYS if k in res},
        "details": details,
        "series": {"mouth_opening": _rounded(mouth, 4),
                   "mouth_opening_mesh": _rounded(mesh_mouth, 4), **upper},
        "sheet": sheet_path,
        "timings": {"track_s": round(t_track, 3), "identity_s": round(t_id, 3),
                    "total_s": round(time.perf_counter() - t0, 3)},
    }


def _upper_face(put, details: dict, lms: np.ndarray, meshes: list, gaze_rows: list,
                bl: dict, fps: float, info: dict, faceless: str) -> dict:
    """Head pose (3-D mesh when the tracker gave one on most frames, else PnP on the 68
    points), brow raise and gaze: per-frame series in details, stds as metrics."""
    smoothing = f"median 3 + {P.SMOOTH_HZ:g} Hz low-pass"
    angles = P.pose_from_68(lms, int(info["width"] or 512), int(info["height"] or 512))
    how = "solvePnP, 68 points vs a generic face"
    have_mesh = sum(m is not None for m in meshes)
    if have_mesh and have_mesh >= 0.9 * max(1, np.isfinite(lms).all(axis=(1, 2)).sum()):
        # the 2-D estimate stays in the details as a cross-check: on the peers' videos the
        # mesh's rotations read ~1.3x larger in yaw and pitch (same roll) than PnP on the
        # same frames' 2-D points
        details["pose_pnp68"] = {**P.pose_stats(angles, fps), "method": how,
                                 "smoothing": smoothing}
        points, iris = _mesh_arrays(meshes)
        angles, how = P.pose_from_mesh(points), "3-D mesh, Kabsch vs first frame"
        gaze_mesh = E.gaze_mesh(points, iris)
        if np.isfinite(gaze_mesh).any():
            gaze_rows = list(gaze_mesh)
    ps = P.pose_stats(angles, fps)
    details["pose"] = {**ps, "method": how, "smoothing": smoothing}
    note = faceless or how
    put("head_yaw_std", ps["yaw_std"], note)
    put("head_pitch_std", ps["pitch_std"], note)
    put("head_roll_std", ps["roll_std"], note)
    put("head_motion", ps["head_motion"], faceless or "RMS of yaw std and pitch std")
    put("brow_std", E.motion_std(E.brow_raise(lms), fps), faceless or "brow over eye corners")
    eyes_open = np.ones(len(lms), bool)
    for f in bl.get("frames") or []:  # a blink and a frame either side: lids, not eyes, move
        eyes_open[max(0, f - 1):f + 4] = False
    gaze = np.stack(gaze_rows)
    put("gaze_std", E.motion_std(gaze, fps, keep=eyes_open),
        faceless or "iris position vs eye corners, blinks excluded")
    return {"head_pose": _rounded(angles, 2), "brow_raise": _rounded(E.brow_raise(lms), 4),
            "gaze": _rounded(gaze, 3)}


def _mesh_arrays(meshes: list) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-frame mesh points [n, P, 3] with z AWAY from the camera (core.types.FaceMesh has
    z towards it: flipped here, so x right, y down, z away is a right-handed frame and the
    Kabsch rotation is a proper one) and iris points [n, 10, 3] or None; NaN rows where a
    frame had no mesh."""
    first = next(m for m in meshes if m is not None)
    is_obj = hasattr(first, "points")
    pts0 = np.asarray(first.points if is_obj else first, dtype=np.float64)
    points = np.full((len(meshes), *pts0.shape), np.nan)
    iris = None
    if is_obj and getattr(first, "iris", None) is not None:
        iris = np.full((len(meshes), *np.asarray(first.iris).shape), np.nan)
    for i, m in enumerate(meshes):
        if m is None:
            continue
        points[i] = np.asarray(m.points if is_obj else m, dtype=np.float64)
        if iris is not None and getattr(m, "iris", None) is not None:
            iris[i] = np.asarray(m.iris, dtype=np.float64)
    if is_obj:
        points[..., 2] *= -1
    return points, iris


def _rounded(x: np.ndarray, digits: int) -> list:
    """A per-frame series as JSON-ready lists, None where not measured."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        return [None if not np.isfinite(v) else round(float(v), digits) for v in x]
    return [_rounded(row, digits) for row in x]


def format_table(result: dict) -> str:
    """The metrics as an aligned text table with a pass/fail mark per row."""
    lines = [f"{result['video']}  ({result['n_frames']} frames, {result['fps']:g} fps, "
             f"{result['width']}x{result['height']})",
             f"{'metric':<24} {'value':>10}  {'target':<22} ok    note"]
    for name, m in result["metrics"].items():
        v = m["value"]
        if v is None:
            vs = "-"
        elif isinstance(v, int | np.integer):
            vs = str(v)
        else:
            vs = f"{v:.3f}"
        mark = {True: "PASS", False: "FAIL", None: "    "}[m["pass"]]
        lines.append(f"{name:<24} {vs:>10}  {m['target']:<22} {mark}  {m['note']}")
    t = result["timings"]
    lines.append(f"time: {t['total_s']:.2f} s (tracking {t['track_s']:.2f} s, identity "
                 f"{t['identity_s']:.2f} s)" + (f"; sheet: {result['sheet']}"
                                                 if result.get("sheet") else ""))
    return "\n".join(lines)
