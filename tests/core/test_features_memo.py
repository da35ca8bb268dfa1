"""The mouth plan is remembered per speech content (core.motion.features_memo): a re-plan
of the same speech, loaded anew, reuses it; any change to the speech or its analysis, deep
inside the prosody included, computes it again; callers get copies."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from core.motion import features_memo
from core.motion.mouth import mouth_channels
from tests.core.test_motion_support import features_of


def test_same_speech_reuses_and_any_change_recomputes(samples):
    feats = features_of("hallo_1.wav", None)  # phone loop: the slow, scored blend
    assert feats.prosody is not None
    calls = []

    @features_memo.by_features
    def plan(f):
        calls.append(1)
        return {"open": np.asarray(f.rms, np.float64) * 2.0}

    a = plan(feats)
    b = plan(copy.deepcopy(feats))  # the studio loads the features anew for each plan
    assert len(calls) == 1 and np.array_equal(a["open"], b["open"])

    rms = feats.rms.copy()
    rms[17] += 0.01
    plan(dataclasses.replace(feats, rms=rms))
    assert len(calls) == 2

    # an array deep inside, long enough that numpy's repr elides its middle, changed there
    long = dataclasses.replace(feats, prosody=dataclasses.replace(
        feats.prosody, f0=np.resize(feats.prosody.f0, 3000)))
    f0 = long.prosody.f0.copy()
    f0[1500] += 1.0
    assert repr(f0) == repr(long.prosody.f0)
    plan(long)
    plan(dataclasses.replace(long, prosody=dataclasses.replace(long.prosody, f0=f0)))
    assert len(calls) == 4

    phones = list(feats.phones)
    phones[3] = dataclasses.replace(phones[3], end=phones[3].end + 0.04)
    plan(dataclasses.replace(feats, phones=phones))
    assert len(calls) == 5

    b["open"][:] = -1.0  # a caller editing its result in place
    assert np.array_equal(plan(feats)["open"], a["open"]) and len(calls) == 5


def test_mouth_channels_of_a_reloaded_speech_equal_a_fresh_plan(samples):
    feats = features_of("hallo_2.wav", None)
    first = mouth_channels(feats)
    mouth_channels.cache_clear()
    fresh = mouth_channels(copy.deepcopy(feats))
    again = mouth_channels(copy.deepcopy(feats))
    for k in ("mouth_open", "mouth_width", "jaw"):
        assert np.array_equal(first[k], fresh[k]) and np.array_equal(fresh[k], again[k])
        assert again[k] is not fresh[k]
