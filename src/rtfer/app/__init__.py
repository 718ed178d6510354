"""The RT-FER web app: FastAPI server, live WebSocket sessions and SQLite storage."""
