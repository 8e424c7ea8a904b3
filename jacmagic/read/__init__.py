"""From what the user wrote to a model: cell text parsed (never evaluated), layer lines read, Python traced."""
