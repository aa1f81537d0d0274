"""A run dir's format, owned here alone: its files, status words, atomic writes and lock."""
