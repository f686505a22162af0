"""yuqing: spiders."""
