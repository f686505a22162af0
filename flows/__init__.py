"""yuqing: flows."""
