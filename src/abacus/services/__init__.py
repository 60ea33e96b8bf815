"""Use cases that write: identity mappings."""
