"""12345 hotline integration service: an Open311 GeoReport v2 style API over PostgreSQL,
publishing each new request as a durable work order to the region's exchange."""
