"""governance.db.one_of and values_of: an id set of any size bound as one value, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from governance.db import make_engine, one_of, same_database, values_of


def _table(engine: sa.Engine, n: int) -> sa.Table:
    metadata = sa.MetaData()
    table = sa.Table("one_of_probe", metadata, sa.Column("id", sa.String(32), primary_key=True))
    metadata.drop_all(engine)
    metadata.create_all(engine)
    if n:
        with engine.begin() as conn:
            conn.execute(table.insert(), [{"id": f"R{i:06d}"} for i in range(n)])
    return table


def test_selects_exactly_the_ids_given_beyond_any_parameter_limit(db_url: str) -> None:
    engine = make_engine(db_url)
    table = _table(engine, 40_000)
    # More ids than SQLite's 32,766 bound parameters: an expanding IN would fail here.
    wanted = [f"R{i:06d}" for i in range(0, 40_000, 1)][:35_000] + ["absent", "R000001"]
    with engine.connect() as conn:
        found = conn.execute(sa.select(table.c.id).where(one_of(table.c.id, wanted, conn.dialect.name))).scalars().all()
    assert sorted(found) == [f"R{i:06d}" for i in range(35_000)]


def test_empty_set_matches_nothing_and_negation_matches_everything(db_url: str) -> None:
    engine = make_engine(db_url)
    table = _table(engine, 10)
    with engine.connect() as conn:
        dialect = conn.dialect.name
        assert conn.execute(sa.select(sa.func.count()).where(one_of(table.c.id, [], dialect))).scalar_one() == 0
        outside = conn.execute(sa.select(sa.func.count()).select_from(table)
                               .where(~one_of(table.c.id, ["R000001", "R000002"], dialect))).scalar_one()
    assert outside == 8


def test_deletes_by_id_set_and_reports_rows(db_url: str) -> None:
    engine = make_engine(db_url)
    table = _table(engine, 100)
    with engine.begin() as conn:
        removed = conn.execute(table.delete().where(one_of(table.c.id, [f"R{i:06d}" for i in range(0, 100, 2)],
                                                           conn.dialect.name))).rowcount
    assert removed == 50
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 50


def test_same_database_compares_files_by_real_path(tmp_path) -> None:
    (tmp_path / "dir").mkdir()
    a = make_engine(f"sqlite:///{tmp_path}/dir/x.db")
    b = make_engine(f"sqlite:///{tmp_path}/dir/../dir/x.db")
    c = make_engine(f"sqlite:///{tmp_path}/dir/y.db")
    assert same_database(a, b)
    assert not same_database(a, c)


def test_values_of_feeds_an_insert_select_of_any_size(db_url: str) -> None:
    engine = make_engine(db_url)
    table = _table(engine, 0)
    wanted = [f"V{i:06d}" for i in range(35_000)]  # past SQLite's bound-parameter limit again
    with engine.begin() as conn:
        given = values_of(wanted, conn.dialect.name)
        inserted = conn.execute(table.insert().from_select(["id"], sa.select(given.c.value)),
                                execution_options={"preserve_rowcount": True}).rowcount
    assert inserted == 35_000
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(table.c.id)).scalars()) == wanted
