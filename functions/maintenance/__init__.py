"""Scheduled maintenance functions."""
