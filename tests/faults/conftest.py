"""Fault tests share the SES stack (moto behind the fault-injecting proxy)."""

from tests.sesproxy import ses, ses_server

__all__ = ["ses", "ses_server"]
