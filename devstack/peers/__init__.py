"""Local stand-ins for the vendors that have no real peer on PyPI (SendGrid, Twilio, Google,
Microsoft Graph), speaking their documented wire formats on 127.0.0.1: the tests assert against
them, the benchmark counts their requests, and `make dev` runs the calendar ones."""
