"""Spiders: forum (Tieba-like) threads."""
