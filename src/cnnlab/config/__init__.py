"""The ground under every command: where conf/ is, and configs made into objects."""
