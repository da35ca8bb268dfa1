"""Offline text-to-speech with word timings (script-first authoring).

    from core.tts import synthesize, list_voices, split_sentences
    speech = synthesize("Hello there. How are you?", voice=None, rate=1.0)
    speech.samples, speech.sample_rate, speech.words, speech.spans
    parts, changed = update_sentences(speech.sentences, edited_text)  # only changed ones
    speech = assemble(parts)

Modules: `voices` (which voices exist: bundled Piper joe voice, user voices folder,
espeak-ng fallback), `sentences` (split and splice), `synth` (engines and timings),
`wordmap` (timings on the author's own tokens). Piper/onnxruntime load lazily.
"""

from core.tts.sentences import splice, split_sentences
from core.tts.synth import (
    MAX_TEXT_CHARS,
    SentenceAudio,
    Speech,
    assemble,
    synthesize,
    synthesize_sentences,
    update_sentences,
)
from core.tts.voices import Voice, list_voices, resolve_voice, user_voices_dir

__all__ = [
    "MAX_TEXT_CHARS",
    "SentenceAudio",
    "Speech",
    "Voice",
    "assemble",
    "list_voices",
    "resolve_voice",
    "splice",
    "split_sentences",
    "synthesize",
    "synthesize_sentences",
    "update_sentences",
    "user_voices_dir",
]
