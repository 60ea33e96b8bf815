"""Full pages and their htmx fragments, one module per page family."""
