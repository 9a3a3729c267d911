"""Sign-in nonces and API sessions; case-sensitive device tokens on MySQL.

FCM tokens are case-sensitive, but MySQL's default collation compares text
case-insensitively, so two distinct tokens could collide on the unique index
there and not on SQLite. An ASCII binary collation makes both databases
compare tokens byte for byte. Every step is safe to run again.
"""

from app.db import is_mysql
from app.models import ApiSession, SignInNonce


def upgrade(db):
    with db.bind_ctx([SignInNonce, ApiSession]):
        db.create_tables([SignInNonce, ApiSession], safe=True)
    if is_mysql(db):
        for column, null in (("token", "NOT NULL"), ("voip_token", "NULL")):
            db.execute_sql(
                f"ALTER TABLE device_token MODIFY {column} VARCHAR(255) "
                f"CHARACTER SET ascii COLLATE ascii_bin {null}"
            )
