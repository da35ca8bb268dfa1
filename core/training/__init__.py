"""Training of the diffusion engine (core.diffusion) on talking-head video.

    data.prepare(videos_dir, out_dir, size=256)   -> dataset folder (manifest.json + clips/)
    dataset.TrainData(out_dir)                    -> deterministic batches for the two stages
    loop.train(TrainConfig(...))                  -> run folder with a `from_pretrained` folder

Stage 0 (`--stage vae`, core.training.vae_stage) trains the VAE on the dataset's frames,
for configurations without a pretrained one (the small CPU configuration). Stage 1 (frame pairs: reference + target of one clip) trains ReferenceNet, the denoiser's
spatial layers, the motion-prior guider and the image (and, with captions, text)
projections; stage 2 (clips) trains the motion modules, the audio attention and the audio
projector with everything else frozen, with the face/lip-weighted loss. torch, diffusers
and accelerate are imported lazily (inside the modules that need them).
"""
