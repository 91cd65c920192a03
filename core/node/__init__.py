"""The local daemon (`meadow node`): one DHT peer, the swarm client, the local HTTP API, the server child."""
