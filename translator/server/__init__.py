"""The server layer: the Starlette app, its WebSocket streams and REST endpoints, and running it under uvicorn."""
