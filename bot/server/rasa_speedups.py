"""What a message costs inside the Rasa server, cut where Rasa Open Source 3.6 repeats work per call
(measured in docs/benchmarks.md, "Load and latency (issue #17)"). Installed by bot/server/rasa_server.py before
Rasa starts, so every Sanic worker (forked from that process) has them; CLEANBOT_RASA_SPEEDUPS=0 turns
them off (to measure the difference, or to rule them out).

* One HTTP connection pool per event loop for the action server (and any other endpoint called through
  `EndpointConfig.request`): Rasa opens a new aiohttp ClientSession, so a new TCP connection, for every
  call, and a message runs two to four actions. Idle connections are dropped after 4 s, before the action
  server's Sanic closes them (its keep-alive is 5 s), so a request never goes out on a connection the
  server is closing.
* The action server's reply is checked against Rasa's JSON schema with a validator built once: Rasa calls
  `jsonschema.validate`, which checks the schema itself against the meta-schema on every call (more than a
  third of the Rasa process's CPU per message in our profile). Same schema, same errors.
* DIET's prediction calls its compiled TensorFlow function directly: `tf.function` with an input
  signature re-checks every input against the signature on each call, and in TF 2.12 that check raises and
  catches an exception per input with the whole structure formatted into its message (a fifth of the
  CPU per message). Only when the function has exactly one concrete function (an input signature, which
  Rasa always gives), else Rasa's own path.
"""
from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

logger = logging.getLogger(__name__)

KEEPALIVE_SECONDS = 4.0  # below Sanic's default KEEP_ALIVE_TIMEOUT (5 s) on the action server
_installed = False
_traced = False


def enabled() -> bool:
    return os.environ.get("CLEANBOT_RASA_SPEEDUPS", "1").strip().lower() not in ("0", "false", "no", "off")


def install() -> bool:
    """Installs all three; idempotent. Returns False when turned off. With CLEANBOT_BENCH_TRACE=1 (set by
    `cleanbot bench load --trace`), also the per-message timestamps of bot.bench.install_trace."""
    global _installed, _traced
    if os.environ.get("CLEANBOT_BENCH_TRACE") == "1" and not _traced:
        from bot.bench import install_trace

        install_trace()
        _traced = True
    if not enabled():
        logger.info("Rasa speed-ups are off (CLEANBOT_RASA_SPEEDUPS=0).")
        return False
    if _installed:
        return True
    install_shared_http_sessions()
    install_cached_response_validator()
    install_direct_tf_predict()
    _installed = True
    return True


# ------------------------------------------------------------------ one connection pool per event loop


class _SharedSession:
    """What `EndpointConfig.session()` returns instead of a new ClientSession: entering it gives the loop's
    shared session, leaving it does not close it."""

    def __init__(self, session: Any) -> None:
        self.session = session

    async def __aenter__(self) -> Any:
        return self.session

    async def __aexit__(self, *exc: Any) -> None:
        return None


_sessions: dict = {}


def _shared_session(auth: Any) -> Any:
    import aiohttp
    from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT

    loop = asyncio.get_running_loop()
    key = (id(loop), None if auth is None else (auth.login, auth.password))
    entry = _sessions.get(key)
    if entry is None or entry[0] is not loop or entry[1].closed:
        connector = aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS, limit=100)
        # No session-wide headers: EndpointConfig.request sends the endpoint's headers with each request.
        session = aiohttp.ClientSession(connector=connector, auth=auth,
                                        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT))
        entry = _sessions[key] = (loop, session)
    return entry[1]


async def close_shared_sessions() -> None:
    loop = asyncio.get_running_loop()
    for key, (owner, session) in list(_sessions.items()):
        if owner is loop:
            _sessions.pop(key, None)
            if not session.closed:
                await session.close()


def install_shared_http_sessions() -> None:
    import aiohttp
    import rasa.core.run
    from rasa.utils.endpoints import EndpointConfig

    def session(self: EndpointConfig) -> _SharedSession:
        auth = None
        if self.basic_auth:
            auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
        return _SharedSession(_shared_session(auth))

    EndpointConfig.session = session
    close_resources = rasa.core.run.close_resources

    async def close_resources_and_sessions(app: Any, loop: Any) -> None:
        await close_resources(app, loop)
        await close_shared_sessions()

    rasa.core.run.close_resources = close_resources_and_sessions


# ------------------------------------------------------------------ the action server's reply, validated


def install_cached_response_validator() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator = validator_for(schema)(schema)  # the schema is Rasa's constant: checked once, here
    validator.check_schema(schema)

    def _validate_action_result(self: RemoteAction, result: dict) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        assert isinstance(error, ValidationError)
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the Action "
            f"endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


# ------------------------------------------------------------------ DIET's compiled prediction


def install_direct_tf_predict() -> None:
    from rasa.shared.constants import DIAGNOSTIC_DATA
    from rasa.utils.tensorflow import models

    original = models.RasaModel._rasa_predict

    def _rasa_predict(self: Any, batch_in: Any) -> Any:
        step = getattr(self, "_tf_predict_step", None)
        if self._run_eagerly or not getattr(self, "prepared_for_prediction", False) or step is None:
            return original(self, batch_in)  # builds the function on the first call, as Rasa does
        concrete = self.__dict__.get("_cleanbot_concrete_predict")
        if concrete is None:
            if getattr(step, "input_signature", None) is None:
                return original(self, batch_in)
            concrete = self.__dict__["_cleanbot_concrete_predict"] = step.get_concrete_function()
        outputs = models.tf_utils.sync_to_numpy_or_python_type(concrete(batch_in))
        if DIAGNOSTIC_DATA in outputs:
            outputs[DIAGNOSTIC_DATA] = self._empty_lists_to_none_in_dict(outputs[DIAGNOSTIC_DATA])
        return outputs

    models.RasaModel._rasa_predict = _rasa_predict
