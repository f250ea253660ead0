"""Admin plan management functions (seed 002)."""
