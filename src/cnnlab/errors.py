"""Errors a user can fix: the entry points print their message as one paragraph, no traceback."""


class CnnlabError(Exception):
    """Base class for mistakes in configuration or data that a user can fix."""


class ConfigError(CnnlabError):
    """A config value is out of its allowed range or of the wrong type."""


class DataError(CnnlabError):
    """A data set cannot be found or read."""


class CheckpointError(CnnlabError):
    """A checkpoint is unreadable, or holds objects that could run code when loaded."""
