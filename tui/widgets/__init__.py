"""Widgets of the console: nouns usable as CSS selectors."""
