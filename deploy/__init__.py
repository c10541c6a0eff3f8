"""Production deployment files (docs/deploy.md) and the scripts that run them locally."""
