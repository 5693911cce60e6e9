"""Business logic of the app, in plain functions the views, tasks and commands call."""
