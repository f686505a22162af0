"""yuqing: graph."""
