"""Analys: patterns, trends and risks in each unit's deviations and complaints.

:mod:`.figures` gathers what the analysis needs: the year's counts (:mod:`arshjul.figures`) for
the year and the two before it, plus two small grouped queries for what those counts lack (the
risk matrix, and the follow-up of last year's action plan). Everything after the queries is
pure Python over the tree (:mod:`.stats`, :mod:`.findings`), so the cost grows with the number
of units, not of records. Every check yields :class:`.findings.Finding` s with ids that stay
the same across reruns, so actions in a unit's plan keep pointing at them; :mod:`.document`
writes each unit's analysis.
"""
