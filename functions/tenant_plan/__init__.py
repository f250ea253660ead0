"""Tenant self-service plan functions (seed 003 §3, §5-§11)."""
