"""Cells of exported spreadsheets: data, never formulas.

A learner's name, an answer or an editor's question label that starts with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return would be run as a formula by a spreadsheet that opens the export (OWASP, "CSV
Injection"). As OWASP recommends, such a cell gets a leading apostrophe, which spreadsheets show as text;
the CSV writer quotes the rest. Numbers (amounts, which may be negative) are not text and stay numbers.
"""

#: The characters OWASP lists as starting a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """The cell's value, made inert when it is text a spreadsheet would take for a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
