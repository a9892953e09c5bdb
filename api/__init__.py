"""HTTP: the Falcon ASGI app factory, middleware, error mapping, and one resource module per family."""
