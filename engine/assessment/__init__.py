"""The initial assessment: a battery of short musical tasks, its results, the baseline report and suggestions.

- :mod:`engine.assessment.results`: what an assessment found (the contract the others share).
"""
