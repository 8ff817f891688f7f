"""Analysis: scheduled jobs that explain endpoint moves."""
