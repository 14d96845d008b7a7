"""Rendering of diagnostics for people (text) and tools."""
