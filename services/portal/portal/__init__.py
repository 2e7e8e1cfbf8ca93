"""The region's government service portal app: sections from the region config, and the
citizen-facing forms that talk to the 12345 hotline service."""
