"""Subscribers: signup, validation, preferences, unsubscribe, suppression."""
