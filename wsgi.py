"""Gunicorn entry point: ``gunicorn wsgi:app``."""

from app import create_app
from app.config import load_settings
from app.logs import configure_logging

settings = load_settings()
configure_logging(settings.is_production)
app = create_app(settings)
