"""What the tutorial notebook shows: the paper's code on the page (listing.py), optimisations
forming live beside their loss (progress.py), pictures and sheets (pictures.py), files in one
call (files.py), upload buttons (upload.py), masks in one line (masks.py), and the command line
run with its pictures live (command_line.py, cli_pictures.py). No loss code here.
"""
