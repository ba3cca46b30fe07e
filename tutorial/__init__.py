"""What the tutorial notebook shows: progress bars and live loss plots (progress.py),
pictures and sheets (pictures.py), and files in one call (files.py). No loss code here.
"""
