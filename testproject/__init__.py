"""testproject: a small real Django project that django-isolation's demo and tests run against."""
