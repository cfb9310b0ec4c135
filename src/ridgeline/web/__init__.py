"""``ridgeline serve``: a local web page over the same core as the CLI (the ``web`` extra).

:mod:`ridgeline.web.api` turns query values into the CLI's ``--json`` objects (no framework);
:mod:`ridgeline.web.app` is the Starlette app; :mod:`ridgeline.web.pages` the HTML shells;
``static/`` the script, styles and icon, all shipped in the package (no CDN, no external request).
"""
