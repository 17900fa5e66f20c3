"""The fair comparison of heads: same network, data and budget, tuned learning rates, seeds.

run.py     compare(): the learning-rate search, the seeds, test evaluation, results.json
speed.py   steps to reach the baseline's best, best value within shorter budgets
report.py  report.md: the tables (plots: labelsphere.plots.plot_curves)
"""

from labelsphere.compare.report import PUBLISHED, REPORT_METRICS, render_report, summarize
from labelsphere.compare.run import compare, compare_dataset, run_dir_for, run_slug
from labelsphere.compare.speed import BUDGETS, add_speed, best_within_budgets, steps_to_reach
from labelsphere.heads.spec import HeadSpec, parse_head_spec

__all__ = [
    "BUDGETS",
    "PUBLISHED",
    "REPORT_METRICS",
    "HeadSpec",
    "add_speed",
    "best_within_budgets",
    "compare",
    "compare_dataset",
    "parse_head_spec",
    "render_report",
    "run_dir_for",
    "run_slug",
    "steps_to_reach",
    "summarize",
]
