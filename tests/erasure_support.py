"""Search the whole database for personal data: every column of every table, whatever its type."""

from django.db import connection

#: What a learner typed, each value unique enough to appear nowhere else in the database.
PERSON = {
    "first_name": "Zanzibarina",
    "last_name": "Quuxworth",
    "email": "zanzibarina.quux@quuxmail.example",
    "billing_address": "42 Marmalade Lane",
    "billing_postcode": "ZX9 9QQ",
    "billing_city": "Vexingtonshire",
    "billing_country": "GB",
}
ANSWER = "Blorptastic Widgets"
#: The values that must be gone after erasure (the country code is too short to search for).
ERASED_VALUES = [value for key, value in PERSON.items() if key != "billing_country"] + [ANSWER, "quuxmail"]


def rows_containing(values):
    """``[(table, column, value)]`` for every column of every table that contains one of ``values``."""
    found = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [column.name for column in connection.introspection.get_table_description(cursor, table)]
            for column in columns:
                text = f"LOWER(CAST({quote(column)} AS TEXT))"
                for value in values:
                    cursor.execute(
                        f"SELECT COUNT(*) FROM {quote(table)} WHERE {text} LIKE %s",  # noqa: S608
                        [f"%{value.lower()}%"],
                    )
                    if cursor.fetchone()[0]:
                        found.append((table, column, value))
    return found
