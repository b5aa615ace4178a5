"""The seeds study: its stages and their helpers."""
