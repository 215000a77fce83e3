"""The initial assessment: a battery of short musical tasks, its results, the baseline report and suggestions.

- :mod:`engine.assessment.results`: what an assessment found (the contract the others share);
- :mod:`engine.assessment.battery`: ``tandem assess`` (:func:`~engine.assessment.battery.run_assessment`),
  with :mod:`~engine.assessment.tasks` (each task's generated script), :mod:`~engine.assessment.staircase`,
  :mod:`~engine.assessment.figures` (the figures from each task's session log) and
  :func:`~engine.simulation.demo.simulate_task` (a task with a simulated child, offline);
- :mod:`engine.assessment.report`: the baseline report (HTML and PDF);
- :mod:`engine.assessment.suggest`: objectives suggested from the baseline (accepted into the plan by
  :mod:`engine.assessment.accept`).
"""
