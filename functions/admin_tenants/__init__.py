"""Admin tenant management functions (seed 002, seed 000)."""
