"""CORS preflight for every path of the API."""
