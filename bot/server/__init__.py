"""Serving the bot: the Rasa server and the action server as processes (runner.py; replicas.py behind nginx),
their entry points (rasa_server.py, action_server.py), what they may start with (security.py, auth.py), and
what Rasa is given of ours (tracker_store.py, lock_store.py, rasa_speedups.py)."""
