"""django-isolation: find the Django tests that leave shared state behind, and the tests it breaks."""

__version__ = "0.1.0"
