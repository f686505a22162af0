"""yuqing: nlp."""
