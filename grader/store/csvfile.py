"""Every CSV convgrade writes goes through here: its cells are data, never formulas.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and a tab or a
carriage return in front of one does not stop it), so a display name such as
`=HYPERLINK(...)` from a roster or an LMS would run when the instructor opens the gradebook.
As OWASP advises, such a text cell is written with a leading single quote, which spreadsheets
read as "this is text". Numbers are written as numbers: a score is an int or a float here,
never text, so it is never quoted, and a negative number would stay a number too.
"""

import csv

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value):
    """`value` as a spreadsheet must read it: text that starts like a formula, quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class Writer:
    """csv.writer, with every cell passed through `cell`."""

    def __init__(self, f, **kwargs):
        self._writer = csv.writer(f, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    """csv.DictWriter, with every cell passed through `cell`."""

    def writerow(self, rowdict):
        return super().writerow({key: cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts):
        for rowdict in rowdicts:
            self.writerow(rowdict)
