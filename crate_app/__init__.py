"""Crate: a music library for DJs whose collections have outgrown their tools."""

__version__ = "0.1.0"
