# Types for django-health-check 4.x, which ships none: what Loadbay uses (ops/health.py).
