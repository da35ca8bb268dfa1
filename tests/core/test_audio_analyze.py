"""core.audio.analyze on real and synthesised speech: alignment, phone loop, VAD, features."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import threading

import numpy as np
import pytest
import soundfile as sf

import core.audio as ca
from core.audio import features as feat
from core.audio.text import normalize_transcript
from core.audio.visemes import PHONE_TO_VISEME, VISEME_INDEX, VISEMES, frame_tracks
from core.errors import InputError
from core.types import Phone, Waveform

TEXT = "Bob bought a map of my pub, and Mary paid him five dollars."
PAD = 1.0  # seconds of silence around the synthesised sentence


def _speech_words(feats):
    return [w.text for w in feats.words]


@pytest.fixture(scope="module")
def espeak_clip(tmp_path_factory):
    """espeak-ng speech of TEXT with PAD s of digital silence before and after, at 22.05 kHz."""
    # espeak-ng is installed by set-up (Makefile APT_PACKAGES): missing is a failure
    assert shutil.which("espeak-ng"), "espeak-ng not found: `make setup` installs it"
    d = tmp_path_factory.mktemp("espeak")
    raw = d / "raw.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), TEXT], check=True)
    x, sr = sf.read(raw, dtype="float32")
    pad = np.zeros(int(PAD * sr), dtype=np.float32)
    path = d / "padded.wav"
    sf.write(path, np.concatenate([pad, x, pad]), sr)
    wave = ca.load(path)
    return wave, PAD, PAD + len(x) / sr


@pytest.fixture(scope="module")
def aligned(espeak_clip):
    return ca.analyze(espeak_clip[0], fps=25.0, transcript=TEXT)


@pytest.fixture(scope="module")
def looped(espeak_clip):
    return ca.analyze(espeak_clip[0], fps=25.0)


# ----------------------------------------------------------------- shapes and contracts
def test_feature_shapes_and_ranges(looped, espeak_clip):
    wave = espeak_clip[0]
    n = int(np.ceil(wave.duration * 25 - 1e-6))
    f = looped
    assert f.n_frames == n and f.fps == 25.0 and f.duration == pytest.approx(wave.duration)
    assert f.rms.shape == (n,) and f.rms.dtype == np.float32
    assert f.vad.shape == (n,) and f.vad.min() >= 0 and f.vad.max() <= 1
    assert f.mel.shape == (n, 80) and np.isfinite(f.mel).all()
    assert f.visemes.shape == (n,) and f.visemes.dtype == np.int16
    assert f.viseme_weights.shape == (n, len(VISEMES))
    np.testing.assert_allclose(f.viseme_weights.sum(1), 1.0, atol=1e-5)
    speech = f.speech_mask()
    assert np.percentile(f.rms[speech], 95) == pytest.approx(1.0, rel=1e-4)


def test_vad_marks_padding_as_silence(looped, espeak_clip):
    _, t0, t1 = espeak_clip
    fr = lambda t: int(t * 25)  # noqa: E731
    assert looped.vad[: fr(t0 - 0.3)].max() < 0.3
    assert looped.vad[fr(t1 + 0.3) :].max() < 0.3
    assert looped.vad[fr(t0 + 0.2) : fr(t1 - 0.2)].mean() > 0.7


def test_mel_is_louder_in_speech(looped, espeak_clip):
    _, t0, t1 = espeak_clip
    inside = looped.mel[int(t0 * 25) + 5 : int(t1 * 25) - 5].mean()
    outside = looped.mel[: int(t0 * 25) - 5].mean()
    assert inside > outside + 5  # natural-log power: speech >> digital silence


# ----------------------------------------------------------------- forced alignment
def test_alignment_words_in_order_inside_speech(aligned, espeak_clip):
    _, t0, t1 = espeak_clip
    assert aligned.aligned and aligned.transcript == TEXT
    assert _speech_words(aligned) == normalize_transcript(TEXT)
    starts = [w.start for w in aligned.words]
    assert starts == sorted(starts)
    assert all(w.end > w.start for w in aligned.words)
    assert aligned.words[0].start > t0 - 0.15 and aligned.words[-1].end < t1 + 0.15
    assert aligned.words[-1].end - aligned.words[0].start > 0.8 * (t1 - t0)


def test_alignment_finds_bilabials(aligned):
    closures = {w: [p.label for p in aligned.phones if p.word == w and p.label in "PBM"]
                for w in ("bob", "map", "my", "pub", "mary", "paid", "him")}  # fmt: skip
    assert closures["bob"] == ["B", "B"] and closures["pub"] == ["P", "B"]
    assert closures["map"] == ["M", "P"] and closures["my"] == ["M"]
    assert closures["mary"] == ["M"] and closures["paid"] == ["P"] and closures["him"] == ["M"]
    # every bilabial phone makes its frames' hard viseme PP
    pp = VISEME_INDEX["PP"]
    for p in aligned.phones:
        if p.label in ("P", "B", "M") and p.end - p.start >= 0.04:
            f = int((p.start + p.end) / 2 * aligned.fps)
            assert aligned.visemes[f] == pp or aligned.viseme_weights[f, pp] > 0.3


def test_alignment_stress_and_silence_visemes(aligned, espeak_clip):
    _, t0, t1 = espeak_clip
    stressed = {p.word for p in aligned.phones if p.stressed}
    assert {"bob", "map", "pub", "mary", "paid", "dollars"} <= stressed
    assert all(p.label in {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY",
                           "OW", "OY", "UH", "UW"} for p in aligned.phones if p.stressed)  # fmt: skip
    assert (aligned.visemes[: int((t0 - 0.2) * 25)] == 0).all()
    assert (aligned.visemes[int((t1 + 0.2) * 25) :] == 0).all()
    assert (aligned.visemes[int(t0 * 25) : int(t1 * 25)] != 0).mean() > 0.6


def test_real_recordings_align(samples):
    transcripts = json.loads((samples / "audio" / "transcripts.json").read_text())
    for name, text in transcripts.items():
        wave = ca.load(samples / "audio" / name)
        f = ca.analyze(wave, fps=30.0, transcript=text)
        assert f.aligned, name
        assert _speech_words(f) == normalize_transcript(text), name
        assert f.words[0].start >= 0 and f.words[-1].end <= wave.duration + 0.01
        # words sit where the voice is
        for w in f.words:
            mid = int((w.start + w.end) / 2 * 30)
            assert f.vad[max(0, mid - 3) : mid + 4].max() > 0.5, (name, w)


def test_unknown_word_gets_a_pronunciation(espeak_clip):
    f = ca.analyze(espeak_clip[0], transcript="Bob bought a map of my pub, and Zorblax paid "
                   "him five dollars.")  # fmt: skip
    assert f.aligned and "zorblax" in _speech_words(f)


def test_unalignable_transcript_falls_back_to_phone_loop(espeak_clip, caplog):
    with caplog.at_level(logging.WARNING, logger="core.audio"):
        f = ca.analyze(espeak_clip[0], transcript=" ?! -- ")
    assert not f.aligned and f.words == []
    assert any(p.label != "SIL" for p in f.phones)
    assert "alignment failed" in caplog.text


# ----------------------------------------------------------------- phone loop
def test_phone_loop_phones_only_in_speech(looped, espeak_clip):
    _, t0, t1 = espeak_clip
    assert not looped.aligned and looped.words == []
    spoken = [p for p in looped.phones if p.label != "SIL"]
    assert len(spoken) >= 20  # ~40 phones in the sentence; the loop is noisy, not deaf
    assert all(t0 - 0.3 < p.start and p.end < t1 + 0.3 for p in spoken)
    assert {p.label for p in spoken} & {"P", "B", "M"}
    assert all(p.label in PHONE_TO_VISEME for p in looped.phones)


def test_real_speech_without_transcript(samples):
    wave = ca.load(samples / "audio" / "hallo_1.wav")
    f = ca.analyze(wave, fps=25.0)
    assert f.n_frames == 188 and not f.aligned
    assert 0.5 < f.speech_mask().mean() < 1.0
    assert (f.visemes != 0).mean() > 0.4
    again = ca.analyze(wave, fps=25.0)
    assert again.phones == f.phones  # deterministic: same request, same phones
    np.testing.assert_array_equal(again.vad, f.vad)


# ----------------------------------------------------------------- edge inputs
def test_silence_only(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(3 * 44100, dtype=np.float32), 44100)
    f = ca.analyze(ca.load(path), fps=25.0)
    assert f.n_frames == 75 and f.vad.max() < 0.1
    assert (f.visemes == 0).all() and not [p for p in f.phones if p.label != "SIL"]
    assert np.all(f.rms == 0) and np.isfinite(f.mel).all()
    np.testing.assert_allclose(f.viseme_weights[:, 0], 1.0, atol=1e-6)


def test_quiet_noise_is_not_blown_up(tmp_path):
    x = 0.003 * np.random.default_rng(1).standard_normal(32000).astype(np.float32)
    f = ca.analyze(Waveform(x), fps=25.0)
    assert f.vad.max() < 0.5 and f.rms.max() < 0.1


def test_tenth_of_a_second(tmp_path, samples):
    wave = ca.load(samples / "audio" / "hallo_1.wav")
    short = Waveform(wave.samples[40000:41600].copy(), source="clip")  # 0.1 s of speech
    f = ca.analyze(short, fps=25.0, transcript="hello")
    assert f.n_frames == 3 and f.mel.shape == (3, 80) and f.vad.shape == (3,)


def test_empty_waveform_is_input_error():
    with pytest.raises(InputError, match="no audio samples"):
        ca.analyze(Waveform(np.zeros(0, dtype=np.float32), source="x.wav"))


@pytest.mark.parametrize("fps", [24.0, 30.0, 29.97, 60.0, 120.0])
def test_frame_counts_for_fps(espeak_clip, fps):
    wave = espeak_clip[0]
    n = feat.n_frames_for(len(wave.samples), fps)
    assert n == int(np.ceil(wave.duration * fps - 1e-6))
    rms = feat.frame_rms(wave.samples, fps, n)
    vad = feat.frame_vad(np.linspace(0, 1, 100, dtype=np.float32), fps, n)
    mel = feat.frame_mel(wave.samples[:16000], fps, feat.n_frames_for(16000, fps))
    assert rms.shape == (n,) and vad.shape == (n,) and np.isfinite(mel).all()


def test_progress_and_threads(espeak_clip):
    wave = espeak_clip[0]
    seen: list[float] = []
    ref = ca.analyze(wave, progress=lambda f, m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    results = [None, None]

    def work(i):
        results[i] = ca.analyze(wave, transcript=TEXT if i else None)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0].phones == ref.phones
    assert results[1].aligned and _speech_words(results[1]) == normalize_transcript(TEXT)


# ----------------------------------------------------------------- units
def test_phone_to_viseme_covers_arpabet():
    arpabet = ["AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G", "HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW", "V", "W", "Y", "Z", "ZH"]  # fmt: skip
    assert len(arpabet) == 39
    assert set(arpabet) | {"SIL"} <= set(PHONE_TO_VISEME)
    assert set(PHONE_TO_VISEME.values()) <= set(VISEMES) and VISEMES[0] == "sil"
    assert len(VISEMES) == 15
    assert {PHONE_TO_VISEME[p] for p in ["P", "B", "M"]} == {"PP"}


def test_frame_tracks_glide_and_closure():
    phones = [Phone("AY", 0.0, 0.4), Phone("M", 0.4, 0.45), Phone("SIL", 0.45, 1.0)]
    hard, w = frame_tracks(phones, 25, 25.0, smooth_frames=0)
    assert hard[1] == VISEME_INDEX["aa"] and hard[8] == VISEME_INDEX["ih"]
    assert hard[10] == VISEME_INDEX["PP"]  # 0.40-0.44 s: a 1-frame closure survives
    assert (hard[12:] == 0).all()


def test_normalize_transcript():
    assert normalize_transcript("Dr. Smith paid $3.50 -- 20% more, on the 21st!") == (
        [
            "doctor",
            "smith",
            "paid",
            "three",
            "dollars",
            "fifty",
            "twenty",
            "percent",
            "more",
            "on",
            "the",
            "twenty",
            "first",
        ]
    )
    assert normalize_transcript("In 1999 we sold 1,200 well-known cars & don't care.") == (
        [
            "in",
            "nineteen",
            "ninety",
            "nine",
            "we",
            "sold",
            "one",
            "thousand",
            "two",
            "hundred",
            "well",
            "known",
            "cars",
            "and",
            "don't",
            "care",
        ]
    )
    assert normalize_transcript("pi is 3.14") == ["pi", "is", "three", "point", "one", "four"]


def test_transcript_on_silence_is_ignored(caplog):
    with caplog.at_level(logging.WARNING, logger="core.audio"):
        f = ca.analyze(Waveform(np.zeros(32000, dtype=np.float32)), transcript="Hello world.")
    assert not f.aligned and (f.visemes == 0).all() and f.transcript == "Hello world."
    assert "no speech detected" in caplog.text
