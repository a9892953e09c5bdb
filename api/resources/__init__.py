"""One module per resource family; each stays thin: parse, call the domain or enqueue a job, map the
result."""
