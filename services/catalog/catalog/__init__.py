"""Data catalog API: agencies register the datasets they share, and list each other's.
Only reachable through nginx with mutual TLS; the agency is whoever the client
certificate says it is."""
