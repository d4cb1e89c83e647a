"""The signed-in start page."""
