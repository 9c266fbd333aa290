"""One module per page: everything the console reads from or changes in the platform.

Pages never touch ``governance/`` directly; after a merge, re-pointing a page at a
new capability function is an edit to one module here. Functions take the
:class:`Settings` and plain values and return plain dicts of identifiers,
counts and dates (the request pages' preview is the one exception, shown only
to records management).
"""
