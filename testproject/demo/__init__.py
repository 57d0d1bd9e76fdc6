"""The demo: the Flagsmith #7368 story (``polluted``) and its clean twin (``clean``).

Run it with ``python manage.py test --isolation-check testproject.demo.polluted``.
"""
