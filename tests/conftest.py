"""Cross-package tests: Celery interop, end-to-end and reliability."""
