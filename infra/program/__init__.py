"""The program's wiring per target: `local` and `aws` each build their region's resources
beneath the Region component; `shared` is what both deploy the same way (the PKI, the
service credentials, the region's identity). infra/__main__.py only selects one."""
