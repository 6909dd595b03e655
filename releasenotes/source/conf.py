# Sphinx configuration of vmmon's release notes (reno).
extensions = ['reno.sphinxext']
project = 'vmmon Release Notes'
master_doc = 'index'
html_theme = 'alabaster'
