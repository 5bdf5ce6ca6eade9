"""Comparing training runs across seeds: which settings differ, by how much, and whether the
difference survives seed-to-seed noise (Welch's t-test).

`cli` parses the command line; `comparison` runs select -> group -> summarize -> test ->
report; `selection` reads runs back from MLflow, `groups` groups them, `stats` summarizes and
tests, `report` and `plots` write the Markdown/HTML report and its figures.
"""

ALPHA = 0.05  # the significance level of a report, unless told (--alpha)
