"""Business logic of the app, in plain functions with explicit transactions; views stay thin."""
