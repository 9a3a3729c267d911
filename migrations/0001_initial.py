"""The first schema: every table of app.models as first released."""

from app.models import ALL_MODELS


def upgrade(db):
    with db.bind_ctx(ALL_MODELS):
        db.create_tables(ALL_MODELS, safe=True)
