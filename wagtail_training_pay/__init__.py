"""Sell training sessions from a Wagtail site: fee-based registration and pay-per-use."""

__version__ = "0.1.0.dev0"
