"""The tools that drive DVC: named experiments, the seeds study, the reproducibility check, plots.

One command, `journey`, with a subcommand each (`journey --help`). `journey/dvc.py` is the one module
that runs dvc and git.
"""
