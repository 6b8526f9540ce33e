"""Sending: one Sender interface, several backends, and the Delivery state machine."""
