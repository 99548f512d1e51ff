# Types for django-simple-history 3.x, which ships none: what Loadbay uses (audit history).
