"""`bench learn`: does training teach the tiny model a face? (a benchmark, not a CI test)

The shippable portrait `skimage.data.astronaut()` is animated by the CPU engine with a
shared speech sample; that video is prepared at 128 px; stage 1 then stage 2 train the
tiny configuration on it; the result renders through the diffusion engine (`render
--engine diffusion`) and the project's evaluator measures it against the portrait
(identity distance, face found, lip-sync correlation). Everything, including a contact
sheet (training frames over validation renders) and the evaluator's sheet, is written to
out/bench_learn/. Steps: 600 + 200 (150 + 50 with --quick), about 15 min of one CPU core.

What to expect (and why the numbers are reported, not judged): the tiny configuration's
VAE has random weights and is never trained (the brief trains the denoiser side), so its
decoder cannot produce a photograph whatever the denoiser learns; the denoiser's loss falls
(the learning itself is shown by `bench train`), but a face the evaluator recognises needs
a real VAE (an SD1.5 folder via --init) and a GPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from studio.bench.common import ROOT, sample

OUT = ROOT / "out" / "bench_learn"


def _run(*args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True,
                       text=True, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed: {r.stderr.strip()[-400:]}")
    return r


def run(quick: bool = False) -> dict:
    import numpy as np
    from skimage import data as skdata

    from core.image import load_image
    from core.media import save_png

    audio = sample("audio", "echomimic_en.wav")
    if audio is None:
        return {"skipped": "the shared sample echomimic_en.wav is missing"}
    s1, s2 = (150, 50) if quick else (600, 200)
    OUT.mkdir(parents=True, exist_ok=True)
    portrait = OUT / "astronaut.png"
    save_png(skdata.astronaut(), portrait)
    videos = OUT / "videos"
    videos.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    if not (videos / "astronaut_talk.mp4").is_file():
        _run("render", "--portrait", str(portrait), "--audio", str(audio), "--size", "256",
             "--out", str(videos / "astronaut_talk.mp4"), "--quiet")
    _run("data", "prepare", str(videos), str(OUT / "data"), "--size", "128", "--quiet")
    for stage, steps, init, lr in ((1, s1, [], "1e-3"), (2, s2, ["--init", str(OUT / "run1")],
                                                        "1e-3")):
        run_dir = OUT / f"run{stage}"
        if run_dir.exists():
            import shutil

            shutil.rmtree(run_dir)
        _run("train", "--stage", str(stage), "--data", str(OUT / "data"), "--out",
             str(run_dir), "--steps", str(steps), "--lr", lr, "--frames", "4",
             "--val-every", str(steps), "--save-every", str(steps), "--quiet", *init)
    train_s = time.perf_counter() - t0
    video = OUT / "astronaut_diffusion.mp4"
    _run("render", "--engine", "diffusion", "--weights", str(OUT / "run2" / "weights"),
         "--device", "cpu", "--portrait", str(portrait), "--audio", str(audio), "--size", "256",
         "--steps", "10", "--guidance", "1.5", "--out", str(video), "--quiet")
    ev = json.loads(_run("evaluate", str(video), "--portrait", str(portrait), "--json",
                         "--sheet", str(OUT / "evaluate_sheet.png")).stdout)
    metrics = {k: v.get("value") for k, v in ev.get("metrics", {}).items()}
    sheets = [load_image(p) for stage in ("run1", "run2")
              for p in sorted((OUT / stage / "val").glob("*.png"))]
    if sheets:
        w = max(s.shape[1] for s in sheets)
        canvas = np.full((sum(s.shape[0] for s in sheets), w, 3), 255, np.uint8)
        y = 0
        for s in sheets:
            canvas[y : y + s.shape[0], : s.shape[1]] = s
            y += s.shape[0]
        save_png(canvas, OUT / "contact_sheet.png")
    losses = {}
    for stage in (1, 2):
        rows = (OUT / f"run{stage}" / "loss.csv").read_text().splitlines()[1:]
        vals = [float(r.split(",")[1]) for r in rows]
        k = max(1, len(vals) // 10)
        losses[f"stage{stage}_loss_first_tenth"] = round(float(np.mean(vals[:k])), 4)
        losses[f"stage{stage}_loss_last_tenth"] = round(float(np.mean(vals[-k:])), 4)
    return {
        "steps": f"stage 1: {s1}, stage 2: {s2}",
        "prepare_and_train_s": round(train_s, 1),
        **losses,
        "identity_distance": metrics.get("identity_distance"),
        "face_found": metrics.get("face_found"),
        "lip_sync_r": metrics.get("lip_sync_r"),
        "outputs": str(OUT),
    }
