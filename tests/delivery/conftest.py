"""SES through moto behind the fault-injecting proxy, configured for this process."""

from tests.sesproxy import ses, ses_server

__all__ = ["ses", "ses_server"]
