"""Summarises /tmp/sales.csv (month,total) and writes the summary to /tmp/out/summary.txt."""
import os

import stats

try:
    rows = stats.load('/tmp/sales.csv')
except FileNotFoundError:
    print('no /tmp/sales.csv: sample data')
    rows = stats.SAMPLE
text = stats.summary(rows)
print(text)
os.makedirs('/tmp/out', exist_ok=True)
with open('/tmp/out/summary.txt', 'w') as f:
    f.write(text + '\n')
