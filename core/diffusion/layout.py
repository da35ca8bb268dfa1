"""The weights-folder layout shared by the importer, the pipeline and the engine.

Import-light on purpose (no torch): the engine's `available()` checks a folder against it
without loading any model code.
"""

REQUIRED_COMPONENTS = (
    "vae",
    "reference_net",
    "animate_net",
    "face_locator",
    "image_proj",
    "audio_proj",
    "scheduler",
)
OPTIONAL_COMPONENTS = ("text_encoder", "tokenizer", "text_adapter", "wav2vec")
MODEL_COMPONENTS = tuple(c for c in REQUIRED_COMPONENTS if c != "scheduler")
"""The components that are models (a `config.json` + weights each); the scheduler has only
its `scheduler_config.json`."""

# Hallo's DDIM settings (inference.py / default.yaml; see hallo_tiny/README.md).
HALLO_SCHEDULER: dict = {
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "linear",
    "clip_sample": False,
    "steps_offset": 1,
    "prediction_type": "v_prediction",
    "rescale_betas_zero_snr": True,
    "timestep_spacing": "trailing",
}

# Hallo's AnimateDiff motion-module settings (configs/inference/default.yaml).
HALLO_MOTION_KWARGS: dict = {
    "num_attention_heads": 8,
    "num_transformer_block": 1,
    "attention_block_types": ["Temporal_Self", "Temporal_Self"],
    "temporal_position_encoding": True,
    "temporal_position_encoding_max_len": 32,
    "temporal_attention_dim_div": 1,
}
