"""Rasa SDK custom actions: read the tracker, call a `bot` service, render the Korean reply."""
