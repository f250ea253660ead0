"""Pydantic models: what the API takes (`*In`), what it returns (`*Out`), and
what the repositories store (domain records)."""
