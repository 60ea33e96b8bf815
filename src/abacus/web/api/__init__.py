"""JSON endpoints: /api/v1, health and the GitHub webhook."""
