"""What the tutorial notebook shows: the paper's code on the page (listing.py), optimisations
forming live beside their loss (progress.py), pictures and sheets (pictures.py), files in one
call (files.py) and upload buttons (upload.py). No loss code here.
"""
