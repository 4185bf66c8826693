"""Rasa input/output channels of our own."""
