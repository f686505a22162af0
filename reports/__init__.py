"""yuqing: reports."""
