"""Screens and views of the console."""
