"""Beyond the paper's single run, as the notebook's step 8 shows it: colours kept
(color.py), coarse to fine (coarse_to_fine.py) and stylize(), which combines them with
blends of paintings and the brush-stroke size.
"""
