"""What operators do from /admin: pause, retry, look a reader up, read the history.

Domain functions only (no web): the /admin routes call them and log each action.
"""
