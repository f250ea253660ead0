"""Public catalog functions (seed 003 §1, §2, §4)."""
