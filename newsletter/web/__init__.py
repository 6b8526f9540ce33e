"""The FastAPI app: public pages, SES/SNS webhook, /admin, /metrics, /healthz."""
