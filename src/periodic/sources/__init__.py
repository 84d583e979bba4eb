"""Where schedule entries live: one reader (and, where the store allows it, writer) per store."""
