"""One module per group of routes; each exposes `router` (a FastAPI APIRouter)."""
