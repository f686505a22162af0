"""yuqing: collectors."""
