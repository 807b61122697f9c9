"""The service's endpoints, a module per concern; `app.ROUTES` lists those it serves."""
