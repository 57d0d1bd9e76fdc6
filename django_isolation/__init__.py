"""django-isolation: find the Django tests that leave shared state behind, and the tests it breaks."""

from django_isolation.allow import isolation_allow

__all__ = ["isolation_allow"]
__version__ = "0.1.0"
