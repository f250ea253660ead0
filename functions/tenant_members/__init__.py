"""A tenant's members, managed by its owner (seed 002 memberships)."""
