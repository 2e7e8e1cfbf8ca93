"""The local target's dynamic providers: machines, the region network, its firewall."""
