"""Helpers of report.py: a sibling module, imported as `python report.py` would import it."""
import csv

SAMPLE = [{'month': 'jan', 'total': '10'}, {'month': 'feb', 'total': '20'}]


def load(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def summary(rows):
    totals = [int(row['total']) for row in rows]
    return f'{len(totals)} months, total {sum(totals)}, best {max(rows, key=lambda r: int(r["total"]))["month"]}'
