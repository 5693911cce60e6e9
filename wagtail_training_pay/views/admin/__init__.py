"""The admin screens for registrations, payments and reports (one module per screen)."""
