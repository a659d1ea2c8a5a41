"""HTTP handlers, thin: parse, call the store or engine, render."""
