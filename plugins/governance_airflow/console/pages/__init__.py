"""HTTP routes, one module per page: authorise, read the form, call the page's service, render."""
