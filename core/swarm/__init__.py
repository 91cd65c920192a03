"""Swarm membership: DHT start/join, record schemas and validators, identities, access control."""
