"""Plain data types and pure helpers shared by every layer (no Qt, no peewee)."""
