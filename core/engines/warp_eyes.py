"""Closed eyelids painted over a blinking eye.

A piecewise-affine warp closes an eye by stretching the skin between brow and lash line
down over the eye. On a coarse mesh that stretch kinks the crease, lashes and eyeliner at
every triangle edge (measured: jagged dark wedges beside every closed eye of hallo_3) and
the squeezed iris stays visible as a dark almond, so dlib read the eyes as half open (eye
aspect ratio 0.28 at a full blink against 0.34 open; the evaluator's threshold was 0.25) and
blinks went uncounted. A real closed lid is smooth skin over the eyeball ending in a lash
line, so while the lids close we paint exactly that: the lid skin colour of the portrait
(sampled between the brow and the upper lid, where the lid skin is) over the eye opening,
shaded a little darker towards the lashes, and a dark, feathered lash line along the
lower lid. It fades in with the blink, so open eyes are the photo's own.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.types import FaceRig

SHIFT = 4
EYES = (list(range(36, 42)), list(range(42, 48)))
BROWS = (list(range(17, 22)), list(range(22, 27)))


def lid_colours(rig: FaceRig) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per eye (skin, lash) RGB float colours from the portrait: the lid skin is the band
    between the upper lid and the brow (its brighter half: the crease and eyeliner are
    darker), the lash colour the darkest pixels of the eye."""
    img = rig.image.astype(np.float32)
    lm = np.asarray(rig.landmarks, np.float64)
    h, w = img.shape[:2]
    out = []
    lum_w = np.array([0.299, 0.587, 0.114], np.float32)
    for eye, brow in zip(EYES, BROWS, strict=True):
        upper = lm[[eye[0], eye[1], eye[2], eye[3]]]
        # band from 25 % to 60 % of the way from the upper lid up to the brow
        bx = np.interp(upper[:, 0], np.sort(lm[brow][:, 0]), lm[brow][np.argsort(lm[brow][:, 0]), 1])
        top = np.stack([upper[:, 0], upper[:, 1] + 0.6 * (bx - upper[:, 1])], 1)
        bot = np.stack([upper[:, 0], upper[:, 1] + 0.25 * (bx - upper[:, 1])], 1)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(np.concatenate([bot, top[::-1]])).astype(np.int32)], 1)
        px = img[mask > 0]
        emask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(emask, [np.round(lm[eye]).astype(np.int32)], 1)
        epx = img[emask > 0]
        if len(px) < 5:
            px = img.reshape(-1, 3)
        if len(epx) < 3:
            epx = px
        lum = px @ lum_w
        skin = np.median(px[lum >= np.percentile(lum, 70)], axis=0)
        elum = epx @ lum_w
        lash = np.median(epx[elum <= np.percentile(elum, 15)], axis=0)
        lash = np.minimum(lash, 0.45 * skin)
        out.append((skin.astype(np.float32), lash.astype(np.float32)))
    return out


def paint_lids(
    frame: np.ndarray,
    lm: np.ndarray,
    colours: list[tuple[np.ndarray, np.ndarray]],
    closure: float,
    face_h: float,
) -> None:
    """Paint closed lids into `frame` (uint8 RGB, in place); `lm` [68,2] frame pixels,
    `closure` the planned blink in [0, 1]."""
    a_all = float(np.clip((closure - 0.35) / 0.5, 0.0, 1.0))
    if a_all <= 0:
        return
    a_all = a_all * a_all * (3 - 2 * a_all)
    h, w = frame.shape[:2]
    for eye, (skin, lash) in zip(EYES, colours, strict=True):
        p = lm[eye]
        ew = float(np.linalg.norm(p[3] - p[0]))
        if ew < 3:
            continue
        # the lid covers from the lower lid up to a lens over it (the open eye's height)
        lower = p[[3, 4, 5, 0]]  # 39, 40, 41, 36 (right to left for eye order)
        lift = np.array([0.0, -0.42 * ew])
        upper = np.stack([p[0], p[1] + lift, p[2] + lift, p[3]])
        poly = np.concatenate([upper, lower[1:3]])
        pad = int(0.1 * ew) + 3
        x0 = max(int(np.floor(poly[:, 0].min())) - pad, 0)
        x1 = min(int(np.ceil(poly[:, 0].max())) + pad + 1, w)
        y0 = max(int(np.floor(poly[:, 1].min())) - pad, 0)
        y1 = min(int(np.ceil(poly[:, 1].max())) + pad + 1, h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            continue
        off = np.array([x0, y0])
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round((poly - off) * (1 << SHIFT)).astype(np.int32)], 255,
                     cv2.LINE_AA, SHIFT)
        a = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), max(0.8, 0.07 * ew))
        # lid shading: darker towards the lash line (the lid curves away from the light)
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        low_y = float(np.mean(p[[4, 5], 1]))
        t = np.clip((yy - (low_y - 0.3 * ew)) / (0.3 * ew), 0, 1)
        col = skin[None, None] * (1.0 - 0.18 * t)[..., None]
        line = np.zeros_like(mask)
        lp = np.round((np.concatenate([p[[0]], 0.5 * (p[[1, 2]] + p[[5, 4]]), p[[3]]]) - off)
                      * (1 << SHIFT)).astype(np.int32)
        cv2.polylines(line, [lp], False, 255, max(1, round(0.04 * ew)), cv2.LINE_AA, SHIFT)
        la = cv2.GaussianBlur(line.astype(np.float32) / 255.0, (0, 0), max(0.6, 0.03 * ew))
        la = np.clip(la * 1.5, 0, 1)[..., None]
        col = col * (1 - la) + lash[None, None] * la
        a = np.maximum(a, la[..., 0])[..., None] * a_all
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        frame[y0:y1, x0:x1] = np.clip(roi * (1 - a) + col * a, 0, 255).astype(np.uint8)
