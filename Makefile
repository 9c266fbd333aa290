# Convenience wrappers; dev.py does the work and needs nothing but Python.
.PHONY: demo test airflow bench lock
demo: ; python3 dev.py demo
test: ; python3 dev.py test
airflow: ; python3 dev.py airflow
bench: ; python3 dev.py bench
lock: ; python3 dev.py lock
