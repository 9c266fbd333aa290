"""The SQL twin of the reading rule (governance.stores.values_sql) agrees with read_date, on both databases.

Data quality flags with it what retention excludes as unreadable. Text columns
hold every sample; typed DATE / TIMESTAMP columns are never flagged.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa

from governance.db import make_engine
from governance.stores.values import UNREADABLE, read_date
from governance.stores.values_sql import unreadable_date

TEXTS = ["2021-06-30", " 2021-06-30 ", "2021-06-30 00:00:00", "2021-06-30T14:05", "2021-06-30 14:05:06.123456",
         "2021-06-30T23:30:00Z", "2021-06-30T10:00:00+01:00", "2020-02-29", "30/06/2021", "06/30/2021",
         "0000-00-00", "0000-00-00 00:00:00", "0000-01-01", "not a date", "", "   ", "2021-02-30", "2021-02-29",
         "2021-13-01", "2021-00-10", "2021-6-30", "20210630", "２０２１-06-30", "2021-06-30T10"]
# Knowingly different (see the module): a time of day out of range passes SQL, and retention still excludes it.
LENIENT = ["2021-06-30 25:00"]


def test_unreadable_in_sql_is_unreadable_in_python(db_url):
    engine = make_engine(db_url)
    metadata = sa.MetaData()
    t = sa.Table("samples", metadata, sa.Column("n", sa.Integer, primary_key=True), sa.Column("text_value", sa.Text),
                 sa.Column("day", sa.Date), sa.Column("moment", sa.DateTime),
                 sa.Column("aware", sa.DateTime(timezone=True)))
    metadata.create_all(engine)
    typed = {"day": date(2021, 6, 30), "moment": datetime(2021, 6, 30, 23, 59),
             "aware": datetime(2021, 6, 30, 23, 30, tzinfo=timezone.utc)}
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"n": n, "text_value": text, **typed} for n, text in enumerate(TEXTS + LENIENT)])
    dialect = engine.dialect.name
    query = sa.select(t.c.text_value, unreadable_date(t.c.text_value, dialect),
                      *(unreadable_date(t.c[name], dialect) for name in typed)).order_by(t.c.n)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    engine.dispose()
    disagree = [text for text, flagged, *_ in rows if text not in LENIENT and bool(flagged) != (read_date(text) is UNREADABLE)]
    assert not disagree
    assert [bool(f) for text, f, *_ in rows if text in LENIENT] == [False]
    assert not any(any(bool(x) for x in typed_flags) for _, _, *typed_flags in rows)
    assert sum(bool(f) for _, f, *_ in rows) == sum(read_date(text) is UNREADABLE for text in TEXTS)
