"""The run, one stage a module (placeholder; the lead replaces it on merge)."""
