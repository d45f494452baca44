#!/usr/bin/env bash
echo "make demo: the offline end-to-end demonstration arrives with the walking-skeleton issue (#3)."
echo "Until then: make test runs the suite; .venv/bin/python manage.py leadsync status shows the state."
