"""Spreadsheet batch import for Tango reward orders: ingest → normalize → validate → report."""

__version__ = "0.1.0"

__all__ = ["__version__"]
