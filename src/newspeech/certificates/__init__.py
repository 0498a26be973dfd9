"""PDF certificates and session reports."""
