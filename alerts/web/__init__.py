"""The HTTP face: the FastAPI app, its JSON API, the feed's routes and the pages."""
